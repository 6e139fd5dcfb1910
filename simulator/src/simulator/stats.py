"""Request counters served on ``GET /admin/stats``.

Every request to an inference route (chat, completions, embeddings) counts once in
``requests`` and, while it is being served, in ``in_flight``. When it ends it counts in
exactly one of:

- ``completed``: the whole answer was sent;
- ``cancelled``: the client went away (or the server shut down) before the answer was
  complete - mid-stream, during a delay, or while hung (``hang``);
- ``errors_injected``: a fault made it fail on purpose (``error_rate`` answered it with
  ``error_status``, ``disconnect_after_tokens`` cut it, or ``malformed_stream`` spoiled
  it);
- ``rejected``: the request itself was wrong (401, 400, unknown model 404).

``reset()`` zeroes the cumulative counters; ``in_flight`` always tells the requests
being served now, so it survives a reset.
"""

from __future__ import annotations

import enum
from dataclasses import dataclass


class Outcome(enum.Enum):
    COMPLETED = "completed"
    CANCELLED = "cancelled"
    INJECTED = "errors_injected"
    REJECTED = "rejected"


@dataclass(slots=True)
class Stats:
    requests: int = 0
    in_flight: int = 0
    completed: int = 0
    cancelled: int = 0
    errors_injected: int = 0
    rejected: int = 0

    def start(self) -> None:
        self.requests += 1
        self.in_flight += 1

    def end(self, outcome: Outcome) -> None:
        self.in_flight -= 1
        if outcome is Outcome.COMPLETED:
            self.completed += 1
        elif outcome is Outcome.CANCELLED:
            self.cancelled += 1
        elif outcome is Outcome.INJECTED:
            self.errors_injected += 1
        else:
            self.rejected += 1

    def reset(self) -> None:
        self.requests = self.completed = self.cancelled = 0
        self.errors_injected = self.rejected = 0

    def as_dict(self) -> dict[str, int]:
        return {
            "requests": self.requests,
            "in_flight": self.in_flight,
            "completed": self.completed,
            "cancelled": self.cancelled,
            "errors_injected": self.errors_injected,
            "rejected": self.rejected,
        }
