"""The saturation guard: when a model's whole fleet is queueing, shed low priorities.

An alias with ``shed_queue_depth`` refuses a request at once - before any attempt - when
every deployment that could take it has at least that many requests waiting (as its
last reading reports them, plus those this router sent it since), times its
priority's multiple below: ``low`` goes first, ``normal`` when the queues are twice as
deep, ``high`` only at four times, so high-priority requests are shed last.
A refused client gets 503 ``server_overloaded`` (Anthropic's 529 ``overloaded_error``
on the Messages API) with ``Retry-After``, rather than waiting into its time-out.

The guard needs evidence: when any such deployment's reading is missing or stale
(``routing/load.py``), nothing is shed.
"""

from __future__ import annotations

import math

from starlette.responses import Response

from gateway_shared.errors import Envelope, GatewayError, error_response
from gateway_shared.plans import Priority
from router.catalog import LoadPolicy
from router.routing.table import Route

SHED_AT = {Priority.LOW: 1, Priority.NORMAL: 2, Priority.HIGH: 4}


class Overloaded(GatewayError):
    """503 ``server_overloaded``; on the Messages API, Anthropic's 529."""

    def __init__(self, alias: str, retry_after: int) -> None:
        super().__init__(
            f"The model `{alias}` is overloaded. Please retry after {retry_after} seconds.",
            status=503,
            code="server_overloaded",
            headers={"retry-after": str(retry_after)},
        )

    def to_response(self, envelope: Envelope = Envelope.OPENAI) -> Response:
        if envelope is Envelope.ANTHROPIC:
            return error_response(self.message, status=529, headers=self.headers, envelope=envelope)
        return super().to_response(envelope)


def overloaded(
    route: Route, priority: Priority, now: float, policy: LoadPolicy
) -> Overloaded | None:
    """The refusal for a request of ``priority`` to ``route`` now, or None to go on."""
    depth = route.entry.shed_queue_depth
    if depth is None:
        return None
    threshold = depth * SHED_AT[priority]
    serving = [s for s in route.deployments if s.breaker.available()]
    if not serving:
        return None
    for state in serving:
        load = state.fresh_load(now, policy.stale_seconds)
        if load is None or state.waiting(load) < threshold:
            return None
    return Overloaded(route.alias, max(1, math.ceil(policy.scrape_seconds)))
