"""The router's per-deployment states (health, circuit breaker) as one number each, and
the words and colors a table shows for them.

The router exports each state as its own series (1 for the current state, 0 for the
others); a table needs one value per deployment, so each state gets a code and the
panel's query adds up code x series. A code for every state: "unknown" (not checked
yet) is not mistaken for "unhealthy".
"""

from __future__ import annotations

from dataclasses import dataclass

from grafana_foundation_sdk.models.dashboard import ValueMapping

from gateway_cli.dashboards.panels import value_mappings
from gateway_cli.dashboards.promql import max_, series
from router.observability.collector import BREAKER_STATE, HEALTH_STATE
from router.routing.breaker import BreakerState
from router.routing.deployment import Health

PER_DEPLOYMENT = "model, deployment, provider"


@dataclass(frozen=True)
class States:
    metric: str
    codes: dict[str, tuple[int, str]]  # state -> (code, color)

    def expr(self, *matchers: str) -> str:
        """One value per deployment: its current state's code."""
        terms = [
            f"{code} * {max_(series(self.metric, *matchers, f'state="{state}"'), PER_DEPLOYMENT)}"
            for state, (code, _) in self.codes.items()
            if code
        ]
        return " + ".join(terms)

    def mappings(self) -> list[ValueMapping]:
        return value_mappings({code: (state, color) for state, (code, color) in self.codes.items()})


HEALTH = States(
    HEALTH_STATE,
    {
        Health.UNKNOWN: (0, "blue"),
        Health.UNHEALTHY: (1, "red"),
        Health.HEALTHY: (2, "green"),
    },
)
BREAKER = States(
    BREAKER_STATE,
    {
        BreakerState.CLOSED: (0, "green"),
        BreakerState.HALF_OPEN: (1, "orange"),
        BreakerState.OPEN: (2, "red"),
    },
)
