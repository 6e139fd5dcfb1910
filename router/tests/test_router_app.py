"""The router app in-process (ASGI) over simulated vLLM upstreams: what policy receives.

Non-streaming answers carry ``x-gateway-usage``; streams end with ``data: [DONE]`` and
the usage trailer; a stream cut after its first token ends with an OpenAI-shaped error
event and the trailer with estimated usage, never ``[DONE]``, and is not retried.
"""

from __future__ import annotations

import gc
from collections.abc import AsyncIterator, Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import httpx
import orjson
import pytest

from gateway_shared.wire.report import Usage, parse_usage_trailer
from router.app import create_app
from router.settings import RouterSettings
from tests.support.routerkit import Chunks, VLLMUpstream, router_client

SECRET = "s" * 32
CATALOG = """
routing:
  breaker: {consecutive_failures: 2, cooldown_seconds: 60}
models:
  - alias: chat
    strategy: round_robin
    deployments:
      - {name: a, provider: vllm, base_url: 'http://a.test/v1', model: model-a, health_interval: 0}
      - {name: b, provider: vllm, base_url: 'http://b.test/v1', model: model-b, health_interval: 0}
"""
CHAT = {"model": "chat", "messages": [{"role": "user", "content": "hello"}], "max_tokens": 5}

Handler = Callable[[httpx.Request], httpx.Response]


class Upstreams:
    """Two vLLM upstreams (a.test, b.test) answering what each test scripts."""

    def __init__(self) -> None:
        self.fake = VLLMUpstream()
        self.handlers: dict[str, Handler] = {}
        self.calls: dict[str, int] = {"a.test": 0, "b.test": 0}

    def answer(self, host: str, text: str) -> None:
        self.handlers[host] = self.fake.answering(text, 3, 2)

    def stream(self, host: str, parts: list[bytes | float | BaseException]) -> None:
        self.handlers[host] = lambda _: httpx.Response(
            200, headers={"content-type": "text/event-stream"}, stream=Chunks(list(parts))
        )

    def fail(self, host: str, status: int, message: str) -> None:
        body = {
            "error": {
                "message": message,
                "type": "invalid_request_error",
                "param": None,
                "code": None,
            }
        }
        self.handlers[host] = lambda _: httpx.Response(status, json=body)

    async def handle(self, request: httpx.Request) -> httpx.Response:
        host = request.url.host
        self.calls[host] += 1
        return self.handlers[host](request)


@pytest.fixture
def upstreams() -> Upstreams:
    return Upstreams()


@pytest.fixture
async def router(tmp_path: Path, upstreams: Upstreams) -> AsyncIterator[httpx.AsyncClient]:
    catalog = tmp_path / "catalog.yaml"
    catalog.write_text(CATALOG)
    settings = RouterSettings(  # type: ignore[call-arg]
        internal_secret=SECRET, catalog_path=catalog, health_checks=False, catalog_poll_seconds=0
    )
    mock = httpx.AsyncClient(transport=httpx.MockTransport(upstreams.handle))
    app = create_app(settings, http_client=mock)
    async with router_client(app, SECRET) as client:
        yield client


def split(body: bytes) -> list[bytes]:
    return [e + b"\n\n" for e in body.split(b"\n\n") if e]


async def test_answer_carries_usage_header(router: httpx.AsyncClient, upstreams: Upstreams) -> None:
    upstreams.answer("a.test", "hi")
    upstreams.answer("b.test", "hi")
    response = await router.post("/v1/chat/completions", json=CHAT)
    assert response.status_code == 200
    assert orjson.loads(response.headers["x-gateway-usage"]) == {
        "prompt_tokens": 3,
        "completion_tokens": 2,
    }
    assert response.json()["choices"][0]["message"]["content"] == "hi"


async def test_stream_ends_with_done_then_the_usage_trailer(
    router: httpx.AsyncClient, upstreams: Upstreams
) -> None:
    head, tail = upstreams.fake.events(["x", "y"], prompt=4)
    upstreams.stream("a.test", [*head, tail])
    upstreams.stream("b.test", [*head, tail])
    response = await router.post("/v1/chat/completions", json=CHAT | {"stream": True})
    events = split(response.content)
    assert events[-2] == b"data: [DONE]\n\n"
    assert parse_usage_trailer(events[-1]) == Usage(4, 2)


async def test_stream_cut_mid_answer_ends_with_an_error_event_and_is_not_retried(
    router: httpx.AsyncClient, upstreams: Upstreams
) -> None:
    head, _ = upstreams.fake.events(["one", "two"])
    cut = [*head, httpx.ReadError("reset")]
    upstreams.stream("a.test", cut)
    upstreams.stream("b.test", cut)
    response = await router.post("/v1/chat/completions", json=CHAT | {"stream": True})
    assert response.status_code == 200
    events = split(response.content)
    assert b"data: [DONE]\n\n" not in events
    error = orjson.loads(events[-2].removeprefix(b"data: "))
    assert error == {
        "error": {
            "message": "The model provider's stream was interrupted before it finished.",
            "type": "server_error",
            "param": None,
            "code": "stream_interrupted",
        }
    }
    trailer = parse_usage_trailer(events[-1])
    assert trailer is not None
    assert (trailer.completion_tokens, trailer.estimated) == (2, True)
    assert sum(upstreams.calls.values()) == 1


async def test_provider_400_reaches_the_caller_with_its_message_once(
    router: httpx.AsyncClient, upstreams: Upstreams
) -> None:
    upstreams.fail("a.test", 400, "This model's maximum context length is 8 tokens.")
    upstreams.fail("b.test", 400, "This model's maximum context length is 8 tokens.")
    response = await router.post("/v1/chat/completions", json=CHAT)
    assert response.status_code == 400
    error = response.json()["error"]
    assert error["message"] == "This model's maximum context length is 8 tokens."
    assert error["type"] == "invalid_request_error"
    assert sum(upstreams.calls.values()) == 1


async def test_failover_and_status_page(router: httpx.AsyncClient, upstreams: Upstreams) -> None:
    upstreams.fail("a.test", 503, "overloaded; Traceback in /srv/engine.py")
    upstreams.answer("b.test", "from b")
    for _ in range(6):
        response = await router.post("/v1/chat/completions", json=CHAT)
        assert response.status_code == 200
        assert response.json()["choices"][0]["message"]["content"] == "from b"
    status = (await router.get("/status")).json()
    a, b = status["deployments"]["a"], status["deployments"]["b"]
    assert a["breaker"]["state"] == "open"
    assert a["counters"]["failures"] == 2
    assert b["breaker"]["state"] == "closed"
    assert b["counters"]["successes"] == 6
    assert status["routing"]["requests"] == 6
    assert status["routing"]["failovers"] == 2
    assert status["catalog"]["models"]["chat"] == {
        "strategy": "round_robin",
        "deployments": ["a", "b"],
    }
    text = orjson.dumps(status)
    assert b"a.test" not in text
    assert b"Traceback" not in text


async def test_all_deployments_failing_answers_an_openai_error(
    router: httpx.AsyncClient, upstreams: Upstreams
) -> None:
    upstreams.fail("a.test", 503, "down")
    upstreams.fail("b.test", 503, "down")
    response = await router.post("/v1/chat/completions", json=CHAT)
    assert response.status_code == 502
    error: dict[str, Any] = response.json()["error"]
    assert error["code"] == "provider_unavailable"
    assert "down" not in error["message"]


async def test_unknown_model_and_missing_identity(router: httpx.AsyncClient) -> None:
    response = await router.post("/v1/chat/completions", json=CHAT | {"model": "nope"})
    assert response.status_code == 404
    response = await router.post(
        "/v1/chat/completions", json=CHAT, headers={"x-gateway-identity": ""}
    )
    assert response.status_code == 401


@contextmanager
def cyclic_garbage() -> Iterator[list[object]]:
    """What only the cycle collector would have freed, made inside the block."""
    gc.collect()
    gc.disable()
    gc.set_debug(gc.DEBUG_SAVEALL)
    found: list[object] = []
    try:
        yield found
        gc.collect()
        found.extend(gc.garbage)
    finally:
        gc.garbage.clear()
        gc.set_debug(0)
        gc.enable()


def _routers(garbage: list[object]) -> list[object]:
    """The router's own, leaving out the test client's (its host is ``router``)."""
    return [
        o
        for o in garbage
        if type(o).__module__.startswith(("router.", "tenacity"))
        or (isinstance(o, httpx.Response) and o.request.url.host.endswith(".test"))
    ]


async def test_answers_leave_no_reference_cycles(
    router: httpx.AsyncClient, upstreams: Upstreams
) -> None:
    # Cycles per request (httpx's response and its stream; tenacity's state) made the
    # cycle collector a tenth of the router's CPU under load, and its pauses longer.
    upstreams.answer("a.test", "hi")
    upstreams.answer("b.test", "hi")
    head, tail = upstreams.fake.events(["x", "y"], prompt=4)
    with cyclic_garbage() as garbage:
        for _ in range(5):
            assert (await router.post("/v1/chat/completions", json=CHAT)).status_code == 200
    assert _routers(garbage) == []
    upstreams.stream("a.test", [*head, tail])
    upstreams.stream("b.test", [*head, tail])
    with cyclic_garbage() as garbage:
        for _ in range(5):
            response = await router.post("/v1/chat/completions", json=CHAT | {"stream": True})
            assert response.status_code == 200
    assert _routers(garbage) == []
