"""Which event of each API's stream reports its usage, and the cost written into it."""

from __future__ import annotations

from typing import Any

import orjson
import pytest

from gateway_shared.sse import DONE, data_event
from gateway_shared.wire.identity import Api
from policy.stream_cost import find_usage_event, with_cost

USAGE = {"prompt_tokens": 3, "completion_tokens": 5}


def _named(kind: str, payload: dict[str, Any]) -> bytes:
    return b"event: " + kind.encode() + b"\ndata: " + orjson.dumps(payload) + b"\n\n"


# Per API: the event that reports the stream's usage, and others that hold a usage object.
STREAMS: dict[Api, tuple[bytes, list[bytes]]] = {
    Api.CHAT: (
        data_event({"id": "c", "choices": [], "usage": USAGE}),
        [data_event({"id": "c", "choices": [{"index": 0, "delta": {}}], "usage": USAGE}), DONE],
    ),
    Api.COMPLETIONS: (data_event({"choices": [], "usage": USAGE}), []),
    Api.RESPONSES: (
        _named(
            "response.completed",
            {"type": "response.completed", "response": {"id": "r", "usage": USAGE}},
        ),
        [_named("response.created", {"type": "response.created", "response": {"usage": None}})],
    ),
    Api.MESSAGES: (
        _named("message_delta", {"type": "message_delta", "delta": {}, "usage": USAGE}),
        [_named("message_start", {"type": "message_start", "message": {"usage": USAGE}})],
    ),
}


def _usage(api: Api, event: bytes) -> Any:
    payload = orjson.loads(next(ln for ln in event.split(b"\n") if ln.startswith(b"data:"))[5:])
    return payload["response"]["usage"] if api is Api.RESPONSES else payload["usage"]


def _framing(event: bytes) -> list[bytes]:
    return [b"data:" if ln.startswith(b"data:") else ln for ln in event.split(b"\n")]


@pytest.mark.parametrize("api", list(STREAMS))
def test_the_cost_goes_into_the_usage_of_the_one_event_that_reports_it(api: Api) -> None:
    usage_event, others = STREAMS[api]
    for other in others:
        assert find_usage_event(api, other) is None
        assert with_cost(api, other, 1) is other
    priced = with_cost(api, usage_event, 12_345)
    assert _usage(api, priced) == USAGE | {"cost": 0.000012345}
    # The rest of the event is as it was: its name, its framing.
    assert _framing(priced) == _framing(usage_event)
    assert _usage(api, with_cost(api, usage_event, None)) == USAGE | {"cost": None}


def test_a_cost_already_there_is_replaced() -> None:
    event = data_event({"choices": [], "usage": USAGE | {"cost": 9.0}})
    assert _usage(Api.CHAT, with_cost(Api.CHAT, event, 0)) == USAGE | {"cost": 0.0}


def test_an_event_that_is_not_json_is_left_alone() -> None:
    event = b'data: {"usage":{ broken\n\n'
    assert with_cost(Api.CHAT, event, 1) is event
