"""One run's figures, from the client's records of its requests."""

from __future__ import annotations

from dataclasses import dataclass, field

from gateway_cli.bench.fleet.driver import Outcome
from gateway_cli.bench.fleet.engines import EngineStats

PRIORITY_ORDER = ("low", "normal", "high")


def percentile(values: list[float], q: float) -> float | None:
    """The ``q`` quantile (0..1), nearest rank; None for no values."""
    if not values:
        return None
    ranked = sorted(values)
    return ranked[min(len(ranked) - 1, max(0, round(q * len(ranked) + 0.5) - 1))]


@dataclass
class RunStats:
    policy: str
    load: float
    rate: float
    seconds: float
    requests: int = 0
    ok: int = 0
    failed: int = 0
    timed_out: int = 0
    shed: dict[str, int] = field(default_factory=dict)
    ttft_p50: float | None = None
    ttft_p99: float | None = None
    e2e_p99: float | None = None
    tokens_per_s: float = 0.0
    hit_rate: float = 0.0
    shed_p99_ms: float | None = None
    # The same refusals, the gateway's own time only (edge to edge).
    shed_gateway_p99_ms: float | None = None
    shed_without_retry_after: int = 0
    gateway_cpu: float = 0.0
    # Every core's busy share over the run, in %: the simulators and the load itself share
    # the machine with the gateway, and a saturated machine delays what the client times.
    machine_busy: float = 0.0
    # Shares of the engines' readings over the run (engines.py): every replica with the
    # guard's depth waiting; some replica idle. None when no reading had every replica.
    saturated: float | None = None
    some_idle: float | None = None

    @classmethod
    def of(
        cls,
        policy: str,
        *,
        load: float,
        rate: float,
        seconds: float,
        outcomes: list[Outcome],
        gateway_cpu: float,
        machine_busy: float,
        engines: EngineStats | None,
    ) -> RunStats:
        ok = [o for o in outcomes if o.ok]
        shed = [o for o in outcomes if o.shed]
        prompt = sum(o.prompt_tokens for o in ok)
        return cls(
            policy=policy,
            load=load,
            rate=rate,
            seconds=seconds,
            requests=len(outcomes),
            ok=len(ok),
            failed=sum(1 for o in outcomes if not o.ok and not o.shed),
            timed_out=sum(1 for o in outcomes if o.timed_out),
            shed={p: sum(1 for o in shed if o.priority == p) for p in PRIORITY_ORDER},
            ttft_p50=percentile([o.ttft for o in ok if o.ttft is not None], 0.5),
            ttft_p99=percentile([o.ttft for o in ok if o.ttft is not None], 0.99),
            e2e_p99=percentile([o.e2e for o in ok if o.e2e is not None], 0.99),
            tokens_per_s=sum(o.output_tokens for o in ok) / seconds,
            hit_rate=sum(o.cached_tokens for o in ok) / prompt if prompt else 0.0,
            shed_p99_ms=_ms(percentile([o.e2e or 0.0 for o in shed], 0.99)),
            shed_gateway_p99_ms=_ms(percentile([o.gateway or 0.0 for o in shed], 0.99)),
            shed_without_retry_after=sum(1 for o in shed if not o.retry_after),
            gateway_cpu=gateway_cpu,
            machine_busy=machine_busy,
            saturated=None if engines is None else engines.saturated,
            some_idle=None if engines is None else engines.some_idle,
        )


def _ms(seconds: float | None) -> float | None:
    return None if seconds is None else 1000 * seconds
