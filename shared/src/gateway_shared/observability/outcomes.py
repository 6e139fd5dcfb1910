"""How a provider call ended: one vocabulary for every signal that tells it.

The router's call metrics (``outcome``, and the GenAI duration's ``error_type``, empty on
success), the adapter span's ``error.type`` and the router's request log line
(``outcome``) use these values and no others, so the metric, the trace and the log line
of one failure are found with the same word.
"""

from __future__ import annotations

from enum import StrEnum


class Outcome(StrEnum):
    OK = "ok"
    RATE_LIMITED = "rate_limited"  # the provider answered 429
    TIMEOUT = "timeout"  # no answer, or no first token, in time
    UNAVAILABLE = "unavailable"  # no connection, a 5xx, or broken before the first byte
    REJECTED = "rejected"  # the provider refused the request itself (4xx)
    INTERRUPTED = "interrupted"  # a stream broken after the client got part of it
    ERROR = "error"  # any other provider failure
    CANCELLED = "cancelled"  # the client left
    INTERNAL = "internal"  # the gateway's own fault
