"""Adapters for providers that speak the OpenAI API themselves (OpenAI, vLLM).

The request body passes through with the model name swapped for the deployment's, and,
on streams, ``stream_options.include_usage`` forced on so the gateway always learns the
real usage; the usage chunk is taken out again when the client did not ask for it.
Stream events are checked to be JSON (an unreadable event is a provider failure, not
something to hand a client) but never re-encoded. Whole answers are read as streams and
assembled (``providers.assembly``), except embeddings and deployments that cannot
stream, whose answers pass through byte for byte.
"""

from __future__ import annotations

import os
from typing import Any

import httpx
import orjson

from gateway_shared.plans import Priority
from gateway_shared.sse import DONE
from gateway_shared.tokens import estimate_prompt_tokens
from router.catalog import Deployment, NativeApi
from router.providers.base import (
    PRIORITY_HINT,
    Completion,
    CompletionStream,
    EngineLoad,
    Headers,
    Operation,
    Provider,
    Usage,
)
from router.providers.errors import (
    ProviderError,
    ProviderRejected,
    ProviderUnavailable,
)
from router.providers.messages_native import NativeMessagesEvents
from router.providers.messages_request import chat_request as messages_as_chat
from router.providers.responses_native import NativeResponsesEvents
from router.providers.upstream import (
    EventTranslator,
    SSEStream,
    assembled,
    client_timeout,
    fetch,
    model_ids,
    open_stream,
    status_error,
    whole_answer_limit,
)
from router.providers.usage import usage_from
from router.providers.vllm_metrics import parse_load

PATHS = {
    Operation.CHAT: "/chat/completions",
    Operation.COMPLETIONS: "/completions",
    Operation.EMBEDDINGS: "/embeddings",
    Operation.RESPONSES: "/responses",
    Operation.MESSAGES: "/messages",
}
# What every OpenAI-compatible server serves; the Responses API where the catalog (or
# the provider type's default) says so.
BASE_OPERATIONS = frozenset({Operation.CHAT, Operation.COMPLETIONS, Operation.EMBEDDINGS})
NATIVE = {NativeApi.RESPONSES: Operation.RESPONSES, NativeApi.MESSAGES: Operation.MESSAGES}


def _provider_message(body: bytes) -> tuple[str, str | None, str | None]:
    try:
        error = orjson.loads(body).get("error")
    except (orjson.JSONDecodeError, AttributeError):
        error = None
    message = error.get("message") if isinstance(error, dict) else error
    if not isinstance(message, str) or not message:
        return "The model provider rejected the request.", None, None
    code = error.get("code") if isinstance(error, dict) else None
    param = error.get("param") if isinstance(error, dict) else None
    # OpenAI's codes are strings; vLLM's `code` is the HTTP status again (an integer),
    # no code a client could act on: the rejection gets the gateway's own.
    return (
        message[:2000],
        code if isinstance(code, str) else None,
        param if isinstance(param, str) else None,
    )


def error_for_status(status: int, headers: httpx.Headers, body: bytes) -> ProviderError:
    """Translate a provider's non-2xx answer into the gateway's error hierarchy."""
    if (error := status_error(status, headers)) is not None:
        return error
    message, code, param = _provider_message(body)
    return ProviderRejected(message, status, code, param)


def _has_token(choice: Any) -> bool:
    """Whether a chunk's choice carries output (chat delta or completion text)."""
    if not isinstance(choice, dict):
        return False
    delta = choice.get("delta")
    if isinstance(delta, dict):
        return bool(delta.get("content") or delta.get("tool_calls"))
    return bool(choice.get("text"))


def _unreadable() -> ProviderUnavailable:
    return ProviderUnavailable("The model provider sent an unreadable stream event.")


def _stream_error(error: Any) -> ProviderError:
    """An error event: the request's own fault when the provider says so with a 4xx (vLLM
    reports some engine-side refusals of a request only there, with HTTP 200), else the
    provider failed."""
    code = error.get("code") if isinstance(error, dict) else None
    message = error.get("message") if isinstance(error, dict) else None
    if isinstance(code, int) and 400 <= code < 500 and isinstance(message, str) and message:
        return ProviderRejected(message[:2000], code, None)
    return ProviderUnavailable("The model provider reported an error in its stream.")


class OpenAIEvents(EventTranslator):
    """OpenAI chunks pass through; the usage chunk the gateway asked for is taken out."""

    def __init__(self, client_wants_usage: bool, prompt_estimate: int) -> None:
        self._client_wants_usage = client_wants_usage
        self._prompt_estimate = prompt_estimate
        self._usage: Usage | None = None
        self._tokens = 0

    @property
    def usage(self) -> Usage:
        if self._usage is not None:
            return self._usage
        # One token per content chunk, as vLLM and OpenAI stream them.
        return Usage(self._prompt_estimate, self._tokens, estimated=True)

    def feed(self, event: bytes) -> list[bytes]:
        if event == DONE:
            self.started = self.finished = True
            return [event]
        if not event.startswith(b"data:"):
            # Comments and other fields: nothing for a client (and an upstream comment
            # must never pass for the gateway's own usage trailer).
            return []
        try:
            payload = orjson.loads(event[5:])
        except orjson.JSONDecodeError:
            raise _unreadable() from None
        if not isinstance(payload, dict):
            raise _unreadable()
        choices = payload.get("choices")
        if "error" in payload and not choices:
            raise _stream_error(payload["error"])
        if payload.get("usage"):
            self._usage = usage_from(payload) or self._usage
            if not choices and not self._client_wants_usage:
                # The usage-only chunk exists because the gateway asked for it.
                return []
        if isinstance(choices, list) and choices:
            self.started = True
            self._tokens += sum(1 for choice in choices if _has_token(choice))
        return [event]


class OpenAICompatible(Provider):
    type: str = "openai-compatible"
    #: The public APIs this provider type serves itself when the catalog does not say.
    default_native_apis: tuple[NativeApi, ...] = ()

    def __init__(self, deployment: Deployment, client: httpx.AsyncClient) -> None:
        super().__init__(deployment, client)
        native = deployment.native_apis
        if native is None:
            native = self.default_native_apis
        self.operations = BASE_OPERATIONS | {NATIVE[api] for api in native}
        self._base = deployment.base_url.rstrip("/")
        self._headers = {"content-type": "application/json"}
        if deployment.api_key_env:
            self._headers["authorization"] = f"Bearer {os.environ[deployment.api_key_env]}"
        self._timeout = client_timeout(deployment.timeouts)
        # Parsed once: parsing the URL string was a visible share of each request.
        self._urls = {op: httpx.URL(self._base + path) for op, path in PATHS.items()}

    def _request(
        self, operation: Operation, body: dict[str, Any], *, stream: bool
    ) -> httpx.Request:
        upstream = {**body, "model": self.deployment.model}
        if stream:
            upstream["stream"] = True
            if operation in BASE_OPERATIONS:  # the others' usage always comes at the end
                options = body.get("stream_options") or {}
                upstream["stream_options"] = {**options, "include_usage": True}
        return self.client.build_request(
            "POST",
            self._urls[operation],
            content=orjson.dumps(upstream),
            headers=self._headers,
            timeout=self._timeout,
        )

    async def complete(
        self, operation: Operation, body: dict[str, Any], headers: Headers = None
    ) -> Completion:
        if operation is not Operation.EMBEDDINGS and self.deployment.can_stream:
            return await assembled(self._open(operation, body, wants_usage=True), operation)
        request = self._request(operation, body, stream=False)
        limit = whole_answer_limit(operation, self.deployment.timeouts)
        response, content = await fetch(self.client, request, limit, error_for_status)
        try:
            usage = usage_from(orjson.loads(content))
        except orjson.JSONDecodeError:
            raise ProviderUnavailable("The model provider sent an unreadable answer.") from None
        return Completion(
            status=response.status_code,
            body=content,
            content_type=response.headers.get("content-type", "application/json"),
            usage=usage,
        )

    async def stream(
        self, operation: Operation, body: dict[str, Any], headers: Headers = None
    ) -> CompletionStream:
        options = body.get("stream_options")
        wants_usage = isinstance(options, dict) and options.get("include_usage") is True
        return await self._open(operation, body, wants_usage=wants_usage)

    async def _open(
        self, operation: Operation, body: dict[str, Any], *, wants_usage: bool
    ) -> SSEStream:
        estimate = estimate_prompt_tokens(body)
        translator: EventTranslator
        if operation is Operation.RESPONSES:
            translator = NativeResponsesEvents(estimate)
        elif operation is Operation.MESSAGES:
            translator = NativeMessagesEvents(estimate)
        else:
            translator = OpenAIEvents(wants_usage, estimate)
        return await open_stream(
            self.client,
            self._request(operation, body, stream=True),
            self.deployment.timeouts,
            error_for_status,
            translator,
        )

    async def list_models(self) -> list[str]:
        return await model_ids(self.client, self._base + "/models", self._headers, self._timeout)


# vLLM schedules the lower value first; requests that carry none are at 0.
VLLM_PRIORITY: dict[str, int] = {Priority.HIGH: -1, Priority.NORMAL: 0, Priority.LOW: 1}


class VLLM(OpenAICompatible):
    """A vLLM OpenAI-compatible server (or the simulator standing in for one).

    Its load is read from its ``/metrics`` (``vllm_metrics``). Where the catalog says it
    runs ``--scheduling-policy priority``, every request carries the key's plan priority
    as vLLM's ``priority`` (a client's own is overridden); elsewhere a client's
    ``priority`` is dropped, since such a server refuses any but 0.
    """

    type: str = "vllm"
    default_health_interval: float = 10.0
    reports_load: bool = True

    def _prioritised(self, body: dict[str, Any], headers: Headers) -> dict[str, Any]:
        if not self.deployment.priority_scheduling:
            return (
                {k: v for k, v in body.items() if k != "priority"} if "priority" in body else body
            )
        hint = headers.get(PRIORITY_HINT) if headers else None
        return {**body, "priority": VLLM_PRIORITY.get(hint or Priority.NORMAL, 0)}

    async def complete(
        self, operation: Operation, body: dict[str, Any], headers: Headers = None
    ) -> Completion:
        return await super().complete(operation, self._prioritised(body, headers), headers)

    async def stream(
        self, operation: Operation, body: dict[str, Any], headers: Headers = None
    ) -> CompletionStream:
        return await super().stream(operation, self._prioritised(body, headers), headers)

    async def load(self) -> EngineLoad | None:
        try:
            response = await self.client.get(
                self._base.removesuffix("/v1") + "/metrics", timeout=self._timeout
            )
        except httpx.HTTPError:
            return None
        if response.status_code != 200:
            return None
        try:
            return parse_load(response.text, self.deployment.model)
        except ValueError:  # not the Prometheus text format
            return None

    async def health(self) -> bool:
        # vLLM's own liveness endpoint sits beside /v1, not under it.
        root = self._base.removesuffix("/v1")
        try:
            response = await self.client.get(root + "/health", timeout=self._timeout)
        except httpx.HTTPError:
            return False
        return response.status_code == 200

    async def count_tokens(self, body: dict[str, Any], headers: Headers = None) -> int | None:
        """vLLM's ``/tokenize``, given the request as the chat its template renders."""
        chat = messages_as_chat(body | {"max_tokens": 1})
        request = {"model": self.deployment.model, "messages": chat["messages"]}
        if chat.get("tools"):
            request["tools"] = chat["tools"]
        try:
            response = await self.client.post(
                self._base.removesuffix("/v1") + "/tokenize",
                content=orjson.dumps(request),
                headers=self._headers,
                timeout=self._timeout,
            )
            counted = response.json().get("count") if response.status_code == 200 else None
        except (httpx.HTTPError, ValueError, AttributeError):
            return None
        return counted if isinstance(counted, int) else None


class OpenAI(OpenAICompatible):
    """OpenAI's API, over HTTPS only, with the key from the environment Doppler fills.

    Health checks list the models at a low rate (the endpoint is free but rate limited).
    """

    type: str = "openai"
    default_health_interval: float = 60.0
    default_native_apis = (NativeApi.RESPONSES,)

    def __init__(self, deployment: Deployment, client: httpx.AsyncClient) -> None:
        if not deployment.base_url.startswith("https://"):
            raise ValueError(f"deployment {deployment.name!r}: OpenAI is reached over HTTPS only")
        if not deployment.api_key_env:
            raise ValueError(
                f"deployment {deployment.name!r}: set api_key_env (e.g. OPENAI_API_KEY)"
            )
        super().__init__(deployment, client)
