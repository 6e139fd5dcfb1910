"""Router unit-test helpers: simulated upstreams behind ``httpx.MockTransport``, fake
providers with scripted outcomes, a settable clock.

Each :class:`Upstream` answers in its provider's own wire format - OpenAI chunks, or
Anthropic's Messages events as its API documents them - so one contract suite runs
against all three adapters.
"""

from __future__ import annotations

import asyncio
import contextlib
import dataclasses
import random
from collections.abc import AsyncIterator, Callable, Iterator
from pathlib import Path
from typing import Any

import httpx
import orjson
from fastapi import FastAPI

from edge.validation import Bodies, Limits
from gateway_shared.plans import Plan
from gateway_shared.wire.identity import API_BY_PATH, Identity, IdentitySigner
from router.catalog import Catalog, Deployment, ModelEntry, Routing, Strategy, Timeouts
from router.providers.anthropic import Anthropic
from router.providers.base import Completion, CompletionStream, Headers, Operation, Provider, Usage
from router.providers.errors import ProviderError
from router.providers.openai_compatible import VLLM, OpenAI
from router.routing.table import CatalogSource, RoutingTable

API_KEY = "sk-test-upstream-secret-0123456789"  # pragma: allowlist secret
# Fake providers never use their client; one for all (creating one costs an SSL context).
UNUSED_CLIENT = httpx.AsyncClient()
KEY_ENV = "ROUTER_TEST_UPSTREAM_KEY"


class FakeClock:
    def __init__(self, now: float = 1000.0) -> None:
        self.now = now

    def __call__(self) -> float:
        return self.now

    def advance(self, seconds: float) -> None:
        self.now += seconds


class Chunks(httpx.AsyncByteStream):
    """A response body: bytes are sent, floats are pauses, exceptions are raised."""

    def __init__(self, parts: list[bytes | float | BaseException]) -> None:
        self.parts = parts
        self.closed = False

    async def __aiter__(self) -> AsyncIterator[bytes]:
        for part in self.parts:
            if isinstance(part, float):
                await asyncio.sleep(part)
            elif isinstance(part, BaseException):
                raise part
            else:
                yield part

    async def aclose(self) -> None:
        self.closed = True


def sse(payload: Any, event: str | None = None) -> bytes:
    head = f"event: {event}\n".encode() if event else b""
    return head + b"data: " + orjson.dumps(payload) + b"\n\n"


class Upstream:
    """A simulated provider: records requests, answers what the test scripted."""

    kind: str
    adapter: type[Provider]
    base_url: str

    def __init__(self) -> None:
        self.requests: list[httpx.Request] = []
        self.handler: Callable[[httpx.Request], httpx.Response] | None = None

    # -- what tests script -----------------------------------------------------------

    def answer(self, text: str, prompt: int = 7, completion: int = 3) -> None:
        self.handler = self.answering(text, prompt, completion)

    def answering(
        self, text: str, prompt: int = 7, completion: int = 3
    ) -> Callable[[httpx.Request], httpx.Response]:
        """Answers ``text``: as a stream to a request that asks for one (the router reads
        whole answers as streams), else as one body."""

        def handler(request: httpx.Request) -> httpx.Response:
            if orjson.loads(request.content).get("stream") is True:
                head, tail = self.events([text], prompt, completion)
                return httpx.Response(
                    200, headers={"content-type": "text/event-stream"}, stream=Chunks([*head, tail])
                )
            return httpx.Response(200, json=self.completion(text, prompt, completion))

        return handler

    def stream(self, parts: list[bytes | float | BaseException]) -> Chunks:
        body = Chunks(parts)
        self.handler = lambda _: httpx.Response(
            200, headers={"content-type": "text/event-stream"}, stream=body
        )
        return body

    def fail(
        self, status: int, message: str = "bad thing", headers: dict[str, str] | None = None
    ) -> None:
        self.handler = lambda _: httpx.Response(
            status, headers=headers, json=self.error_body(message, status)
        )

    def raise_(self, exc: BaseException) -> None:
        def handler(request: httpx.Request) -> httpx.Response:
            raise exc

        self.handler = handler

    # -- the provider's formats (per subclass) ---------------------------------------

    def completion(self, text: str, prompt: int, completion: int) -> dict[str, Any]:
        raise NotImplementedError

    def error_body(self, message: str, status: int) -> dict[str, Any]:
        raise NotImplementedError

    def events(
        self, tokens: list[str], prompt: int = 7, completion: int | None = None
    ) -> tuple[list[bytes], bytes]:
        """(the events up to and including the tokens, the closing events); the usage
        reports ``completion`` output tokens (default: one per token)."""
        raise NotImplementedError

    def tool_events(self, name: str, arguments: list[str], prompt: int = 7) -> list[bytes]:
        """A whole stream in which the model calls tool ``name`` with the JSON text that
        ``arguments`` adds up to, streamed in those pieces."""
        raise NotImplementedError

    def streams(self, parts: list[bytes | float | BaseException]) -> None:
        """Answer every request with this stream (streamed or not: the router reads
        whole answers as streams)."""
        self.handler = lambda _: httpx.Response(
            200, headers={"content-type": "text/event-stream"}, stream=Chunks(list(parts))
        )

    def sent_model(self, request: httpx.Request) -> str:
        return str(orjson.loads(request.content)["model"])

    def authorized(self, request: httpx.Request) -> bool:
        raise NotImplementedError

    def health_path(self) -> str:
        raise NotImplementedError

    # -- plumbing --------------------------------------------------------------------

    def deployment(self, **timeouts: float) -> Deployment:
        return Deployment(
            name=f"{self.kind}-1",
            provider=self.kind,
            base_url=self.base_url,
            model="upstream-model",
            api_key_env=KEY_ENV,
            timeouts=Timeouts(**timeouts) if timeouts else Timeouts(),
        )

    async def handle(self, request: httpx.Request) -> httpx.Response:
        self.requests.append(request)
        path = request.url.path
        probe = path.endswith(self.health_path()) or path.endswith("/models")
        if request.method == "GET" and probe and self.handler is None:
            return httpx.Response(200, json={"object": "list", "data": [{"id": "upstream-model"}]})
        assert self.handler is not None, "the test scripted no answer"
        return self.handler(request)

    def provider(self, **timeouts: float) -> Provider:
        client = httpx.AsyncClient(transport=httpx.MockTransport(self.handle))
        return self.adapter(self.deployment(**timeouts), client)


class OpenAIUpstream(Upstream):
    kind = "openai"
    adapter = OpenAI
    base_url = "https://api.openai.test/v1"

    def completion(self, text: str, prompt: int, completion: int) -> dict[str, Any]:
        return {
            "id": "chatcmpl-1",
            "object": "chat.completion",
            "created": 1,
            "model": "upstream-model",
            "choices": [
                {
                    "index": 0,
                    "message": {"role": "assistant", "content": text},
                    "finish_reason": "stop",
                }
            ],
            "usage": {
                "prompt_tokens": prompt,
                "completion_tokens": completion,
                "total_tokens": prompt + completion,
            },
        }

    def error_body(self, message: str, status: int) -> dict[str, Any]:
        return {
            "error": {
                "message": message,
                "type": "invalid_request_error",
                "param": "messages",
                "code": "bad",
            }
        }

    def _chunk(self, delta: dict[str, Any], finish: str | None = None) -> bytes:
        return sse(
            {
                "id": "chatcmpl-1",
                "object": "chat.completion.chunk",
                "created": 1,
                "model": "upstream-model",
                "choices": [{"index": 0, "delta": delta, "finish_reason": finish}],
            }
        )

    def events(
        self, tokens: list[str], prompt: int = 7, completion: int | None = None
    ) -> tuple[list[bytes], bytes]:
        head = [self._chunk({"role": "assistant", "content": ""})]
        head += [self._chunk({"content": t}) for t in tokens]
        output = len(tokens) if completion is None else completion
        usage = {
            "prompt_tokens": prompt,
            "completion_tokens": output,
            "total_tokens": prompt + output,
        }
        tail = (
            self._chunk({}, "stop")
            + sse(
                {
                    "id": "chatcmpl-1",
                    "object": "chat.completion.chunk",
                    "created": 1,
                    "model": "upstream-model",
                    "choices": [],
                    "usage": usage,
                }
            )
            + b"data: [DONE]\n\n"
        )
        return head, tail

    def tool_events(self, name: str, arguments: list[str], prompt: int = 7) -> list[bytes]:
        call = {"index": 0, "id": "call_1", "type": "function",
                "function": {"name": name, "arguments": ""}}  # fmt: skip
        out = [self._chunk({"role": "assistant", "tool_calls": [call]})]
        out += [
            self._chunk({"tool_calls": [{"index": 0, "function": {"arguments": part}}]})
            for part in arguments
        ]
        usage = {"prompt_tokens": prompt, "completion_tokens": len(arguments),
                 "total_tokens": prompt + len(arguments)}  # fmt: skip
        tail = {"id": "chatcmpl-1", "object": "chat.completion.chunk", "created": 1,
                "model": "upstream-model", "choices": [], "usage": usage}  # fmt: skip
        return [*out, self._chunk({}, "tool_calls"), sse(tail), b"data: [DONE]\n\n"]

    def authorized(self, request: httpx.Request) -> bool:
        return request.headers.get("authorization") == f"Bearer {API_KEY}"

    def health_path(self) -> str:
        return "/v1/models"

    def responses_events(self, text: str, prompt: int = 7, cached: int = 0) -> list[bytes]:
        """A native Responses API stream answering ``text`` (OpenAI's own /v1/responses)."""
        response: dict[str, Any] = {
            "id": "resp_up", "object": "response", "created_at": 1, "status": "in_progress",
            "model": "upstream-model", "output": [], "error": None, "incomplete_details": None,
            "instructions": None, "metadata": {}, "parallel_tool_calls": True,
            "temperature": None, "tool_choice": "auto", "tools": [], "top_p": None,
        }  # fmt: skip
        item = {"id": "msg_up", "type": "message", "role": "assistant", "status": "completed",
                "content": [{"type": "output_text", "text": text, "annotations": [],
                             "logprobs": []}]}  # fmt: skip
        usage = {"input_tokens": prompt, "output_tokens": 1, "total_tokens": prompt + 1,
                 "input_tokens_details": {"cached_tokens": cached, "cache_write_tokens": 0},
                 "output_tokens_details": {"reasoning_tokens": 0}}  # fmt: skip
        events: list[tuple[str, dict[str, Any]]] = [
            ("response.created", {"response": response}),
            ("response.in_progress", {"response": response}),
            ("response.output_item.added",
             {"output_index": 0, "item": {**item, "status": "in_progress", "content": []}}),
            ("response.content_part.added", {"item_id": "msg_up", "output_index": 0,
             "content_index": 0, "part": {"type": "output_text", "text": "",
                                         "annotations": [], "logprobs": []}}),
            ("response.output_text.delta", {"item_id": "msg_up", "output_index": 0,
             "content_index": 0, "delta": text, "logprobs": []}),
            ("response.output_text.done", {"item_id": "msg_up", "output_index": 0,
             "content_index": 0, "text": text, "logprobs": []}),
            ("response.content_part.done", {"item_id": "msg_up", "output_index": 0,
             "content_index": 0, "part": item["content"][0]}),
            ("response.output_item.done", {"output_index": 0, "item": item}),
            ("response.completed", {"response": {**response, "status": "completed",
                                                 "output": [item], "usage": usage}}),
        ]  # fmt: skip
        return [
            sse({"type": kind, "sequence_number": n, **fields}, kind)
            for n, (kind, fields) in enumerate(events)
        ]


class VLLMUpstream(OpenAIUpstream):
    kind = "vllm"
    adapter = VLLM
    base_url = "http://vllm.test:8000/v1"

    def error_body(self, message: str, status: int) -> dict[str, Any]:
        # vLLM's envelope: `code` is the HTTP status, `param` always null.
        kind = {400: "BadRequestError", 404: "NotFoundError"}.get(status, "Internal Server Error")
        return {"error": {"message": message, "type": kind, "param": None, "code": status}}

    def health_path(self) -> str:
        return "/health"


class AnthropicUpstream(Upstream):
    kind = "anthropic"
    adapter = Anthropic
    base_url = "https://api.anthropic.test"

    def completion(self, text: str, prompt: int, completion: int) -> dict[str, Any]:
        return {
            "id": "msg_01",
            "type": "message",
            "role": "assistant",
            "model": "upstream-model",
            "content": [{"type": "text", "text": text}],
            "stop_reason": "end_turn",
            "stop_sequence": None,
            "usage": {"input_tokens": prompt, "output_tokens": completion},
        }

    def error_body(self, message: str, status: int) -> dict[str, Any]:
        kind = {400: "invalid_request_error", 429: "rate_limit_error", 529: "overloaded_error"}
        return {
            "type": "error",
            "error": {"type": kind.get(status, "api_error"), "message": message},
        }

    def events(
        self, tokens: list[str], prompt: int = 7, completion: int | None = None
    ) -> tuple[list[bytes], bytes]:
        head = [
            sse(
                {
                    "type": "message_start",
                    "message": {
                        "id": "msg_01",
                        "type": "message",
                        "role": "assistant",
                        "content": [],
                        "model": "upstream-model",
                        "stop_reason": None,
                        "stop_sequence": None,
                        "usage": {"input_tokens": prompt, "output_tokens": 1},
                    },
                },
                "message_start",
            ),
            sse(
                {
                    "type": "content_block_start",
                    "index": 0,
                    "content_block": {"type": "text", "text": ""},
                },
                "content_block_start",
            ),
            sse({"type": "ping"}, "ping"),
        ]
        head += [
            sse(
                {
                    "type": "content_block_delta",
                    "index": 0,
                    "delta": {"type": "text_delta", "text": t},
                },
                "content_block_delta",
            )
            for t in tokens
        ]
        tail = (
            sse({"type": "content_block_stop", "index": 0}, "content_block_stop")
            + sse(
                {
                    "type": "message_delta",
                    "delta": {"stop_reason": "end_turn", "stop_sequence": None},
                    "usage": {"output_tokens": len(tokens) if completion is None else completion},
                },
                "message_delta",
            )
            + sse({"type": "message_stop"}, "message_stop")
        )
        return head, tail

    def tool_events(self, name: str, arguments: list[str], prompt: int = 7) -> list[bytes]:
        head, _ = self.events([], prompt)
        block = {"type": "tool_use", "id": "toolu_1", "name": name, "input": {}}
        out = [
            *head,
            sse({"type": "content_block_start", "index": 1, "content_block": block},
                "content_block_start"),
        ]  # fmt: skip
        out += [
            sse(
                {"type": "content_block_delta", "index": 1,
                 "delta": {"type": "input_json_delta", "partial_json": part}},
                "content_block_delta",
            )
            for part in arguments
        ]  # fmt: skip
        stop = {"type": "message_delta", "delta": {"stop_reason": "tool_use"},
                "usage": {"output_tokens": len(arguments)}}  # fmt: skip
        return [
            *out,
            sse({"type": "content_block_stop", "index": 1}, "content_block_stop"),
            sse(stop, "message_delta"),
            sse({"type": "message_stop"}, "message_stop"),
        ]

    def authorized(self, request: httpx.Request) -> bool:
        return (
            request.headers.get("x-api-key") == API_KEY
            and request.headers.get("anthropic-version") == "2023-06-01"
            and "authorization" not in request.headers
        )

    def health_path(self) -> str:
        return "/v1/models"


UPSTREAMS: dict[str, type[Upstream]] = {
    "openai": OpenAIUpstream,
    "vllm": VLLMUpstream,
    "anthropic": AnthropicUpstream,
}


# -- fake providers for routing tests ---------------------------------------------------


class FakeStream(CompletionStream):
    def __init__(self, parts: list[bytes | BaseException]) -> None:
        self.parts = parts
        self.closed = False

    async def __aiter__(self) -> AsyncIterator[bytes]:
        for part in self.parts:
            if isinstance(part, BaseException):
                raise part
            yield part

    @property
    def usage(self) -> Usage:
        return Usage(5, 2, estimated=True)

    async def aclose(self) -> None:
        self.closed = True


Outcome = Completion | ProviderError | float | Callable[[], Any]


class FakeProvider(Provider):
    """Answers from a script: each call pops the next outcome (the last one repeats).

    An outcome is a Completion, a ProviderError to raise, or a float: hang that long
    (then answer OK).
    """

    type = "fake"
    healthy = True

    def __init__(self, deployment: Deployment, client: httpx.AsyncClient) -> None:
        super().__init__(deployment, client)
        self.script: list[Outcome] = [ok()]
        self.calls = 0
        self.closed = False

    async def _next(self) -> Completion:
        self.calls += 1
        outcome = self.script.pop(0) if len(self.script) > 1 else self.script[0]
        if isinstance(outcome, float):
            await asyncio.sleep(outcome)
            return ok()
        if isinstance(outcome, BaseException):
            raise outcome
        if callable(outcome):
            return outcome()  # type: ignore[no-any-return]
        return outcome

    async def complete(
        self, operation: Operation, body: dict[str, Any], headers: Headers = None
    ) -> Completion:
        return await self._next()

    async def stream(
        self, operation: Operation, body: dict[str, Any], headers: Headers = None
    ) -> CompletionStream:
        await self._next()
        return FakeStream([b"data: {}\n\n"])

    async def list_models(self) -> list[str]:
        return [self.deployment.model]

    async def health(self) -> bool:
        return self.healthy

    async def aclose(self) -> None:
        self.closed = True


class ChatOnlyFake(FakeProvider):
    type = "fake-chat"
    operations = frozenset({Operation.CHAT})


FAKE_ADAPTERS: dict[str, type[Provider]] = {"fake": FakeProvider, "fake-chat": ChatOnlyFake}


def ok(name: str = "") -> Completion:
    return Completion(200, orjson.dumps({"served_by": name}), "application/json", Usage(1, 1))


def fake_deployment(name: str, **kw: Any) -> Deployment:
    return Deployment(
        name=name,
        provider=kw.pop("provider", "fake"),
        base_url=kw.pop("base_url", f"http://{name}.test/v1"),
        model=kw.pop("model", "m"),
        **kw,
    )


def fake_catalog(
    *deployments: Deployment,
    alias: str = "chat",
    strategy: Strategy = Strategy.WEIGHTED,
    routing: dict[str, Any] | None = None,
) -> Catalog:
    return Catalog(
        routing=Routing.model_validate(routing or {}),
        models=(ModelEntry(alias=alias, strategy=strategy, deployments=deployments),),
    )


def build_table(
    catalog: Catalog,
    clock: Callable[[], float],
    previous: RoutingTable | None = None,
    seed: int = 7,
) -> tuple[RoutingTable, list[Provider]]:
    return RoutingTable.build(
        catalog,
        CatalogSource(Path("catalog.yaml"), "0" * 64),
        UNUSED_CLIENT,
        FAKE_ADAPTERS,
        previous=previous,
        clock=clock,
        rng=random.Random(seed),
    )


def provider_of(table: RoutingTable, name: str) -> FakeProvider:
    provider = table.states[name].provider
    assert isinstance(provider, FakeProvider)
    return provider


class VouchedAs(httpx.Auth):
    """Signs each request's identity as edge would: its key, and for an inference
    request the summary edge's own checks make of its body (unless the request carries
    an identity header of its own)."""

    def __init__(self, secret: str, identity: Identity) -> None:
        self._signer = IdentitySigner(secret.encode())
        self._identity = identity
        self._bodies = Bodies(Limits())

    def auth_flow(self, request: httpx.Request) -> Iterator[httpx.Request]:
        if "x-gateway-identity" in request.headers:  # the test's own, forged or missing
            yield request
            return
        api = API_BY_PATH.get(request.url.path)
        summary = self._bodies.check(api, request.content)[1] if api is not None else None
        request.headers["x-gateway-identity"] = self._signer.sign(
            dataclasses.replace(self._identity, request=summary)
        )
        yield request


@contextlib.asynccontextmanager
async def router_client(app: FastAPI, secret: str) -> AsyncIterator[httpx.AsyncClient]:
    """A router app run in process (its lifespan included), called as policy would."""
    auth = VouchedAs(secret, Identity("kid", "tests", Plan(), "req-1"))
    async with (
        app.router.lifespan_context(app),
        httpx.AsyncClient(
            transport=httpx.ASGITransport(app=app), base_url="http://router", auth=auth
        ) as client,
    ):
        yield client
