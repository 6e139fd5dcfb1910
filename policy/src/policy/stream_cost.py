"""A stream's cost, in the usage its API already reports: ``usage.cost``, USD as a JSON
number (``null``: unknown, never 0), as OpenRouter's streams carry it.

Each API reports a stream's usage in one event:

- chat completions and completions: the usage chunk (``choices: []``), sent when the
  caller asked for it in ``stream_options`` (none asked, none added);
- Responses API: ``response.completed`` (or ``incomplete``, ``failed``), in
  ``response.usage``;
- Messages API: ``message_delta``, in ``usage``.

Only an event holding ``"usage":{`` is parsed to tell: the content events before it pass
untouched (``policy.accounting.metered_stream``).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import orjson

from gateway_shared.prices import NANO_PER_USD
from gateway_shared.wire.identity import Api

# The usage object as JSON encoders write it, compact or not.
_MARK, _SPACED_MARK = b'"usage":{', b'"usage": {'
_RESPONSE_ENDS = frozenset({"response.completed", "response.incomplete", "response.failed"})


def _usage(api: Api, payload: dict[str, Any]) -> Any:
    """The payload's usage object if it is the one that reports the stream's usage."""
    if api in (Api.CHAT, Api.COMPLETIONS):
        return payload.get("usage") if payload.get("choices") == [] else None
    if api is Api.RESPONSES:
        response = payload.get("response")
        if payload.get("type") in _RESPONSE_ENDS and isinstance(response, dict):
            return response.get("usage")
        return None
    if api is Api.MESSAGES and payload.get("type") == "message_delta":
        return payload.get("usage")
    return None


@dataclass(frozen=True, slots=True)
class UsageEvent:
    """The event that reports a stream's usage, parsed."""

    lines: list[bytes]  # the event's lines, the data line at ``at``
    at: int
    payload: dict[str, Any]
    usage: dict[str, Any]

    def with_cost(self, cost_nusd: int | None) -> bytes:
        # The payload is this event's own parse: its usage is set in place.
        self.usage["cost"] = None if cost_nusd is None else cost_nusd / NANO_PER_USD
        lines = [*self.lines]
        lines[self.at] = b"data: " + orjson.dumps(self.payload)
        return b"\n".join(lines)


def find_usage_event(api: Api, event: bytes) -> UsageEvent | None:
    """``event`` parsed if it reports the stream's usage; None for any other."""
    if _MARK not in event and _SPACED_MARK not in event:
        return None
    lines = event.split(b"\n")
    data = [i for i, line in enumerate(lines) if line.startswith(b"data:")]
    if len(data) != 1:
        return None
    try:
        payload = orjson.loads(lines[data[0]][5:])
    except orjson.JSONDecodeError:
        return None
    if not isinstance(payload, dict):
        return None
    usage = _usage(api, payload)
    return UsageEvent(lines, data[0], payload, usage) if isinstance(usage, dict) else None


def with_cost(api: Api, event: bytes, cost_nusd: int | None) -> bytes:
    """``event`` with the cost in its usage if it reports the stream's usage; else as it is."""
    found = find_usage_event(api, event)
    return event if found is None else found.with_cost(cost_nusd)
