"""The issue's targets, judged against one run's results."""

from __future__ import annotations

from dataclasses import dataclass

from gateway_cli.bench.results import BRIDGES, MODES, Results, Soak

RSS_BUDGET_MB = 250.0
# "No growth trend": the last minute's mean within this much of the second minute's.
RSS_GROWTH_LIMIT_MB = 10.0


@dataclass(frozen=True)
class Verdict:
    name: str
    goal: str
    measured: str
    met: bool | None  # None: not measured in this run


def _added(
    results: Results, mode: str, clients: int, field: str, target: str = "gateway"
) -> float | None:
    gateway = results.find(target, mode, clients)
    direct = results.find("simulator", mode, clients)
    if gateway is None or direct is None:
        return None
    g = getattr(gateway.k6, field)
    d = getattr(direct.k6, field)
    return None if g is None or d is None else float(g - d)


def growth_span(soak: Soak) -> float:
    """The length of the windows compared: a minute, or a fifth of a short soak."""
    end = soak.samples[-1].t if soak.samples else 0.0
    return 60.0 if end >= 180 else end / 5


def duration_text(seconds: float) -> str:
    if seconds >= 60 and seconds % 60 == 0:
        return f"{seconds / 60:.0f}-minute"
    return f"{seconds:g}-second"


def soak_growth(soak: Soak) -> dict[str, float]:
    """Per process (and the three tiers in total): mean RSS of the last minute minus that
    of the second minute (the first is warm-up: pools fill, caches warm); shorter soaks
    use fifths of their length instead of minutes."""
    samples = soak.samples
    if len(samples) < 4:
        return {}
    end = samples[-1].t
    span = growth_span(soak)

    def mean(lo: float, hi: float, name: str) -> float:
        values = [
            tiers_rss(s.rss) if name == "total" else s.rss[name] for s in samples if lo <= s.t <= hi
        ]
        return sum(values) / len(values) if values else 0.0

    return {
        name: mean(end - span, end, name) - mean(span, 2 * span, name)
        for name in (*soak.tiers, "total")
    }


def tiers_rss(rss: dict[str, float]) -> float:
    return sum(v for k, v in rss.items() if k in ("edge", "policy", "router"))


def _cache_verdict(results: Results) -> Verdict:
    """A hit against the uncached path, on the same stack: faster at 1 client (added p50)
    and more throughput at 50, with no errors."""
    name = "response cache hit (non-streaming)"
    goal = "1 client: added p50 below uncached; 50 clients: more req/s, 0 errors"
    added_hit = _added(results, "chat", 1, "p50", target="cached")
    added = _added(results, "chat", 1, "p50")
    busy_uncached = results.find("gateway", "chat", 50)
    busy_hit = results.find("cached", "chat", 50)
    if added_hit is None or added is None or busy_uncached is None or busy_hit is None:
        return Verdict(name, goal, "-", None)
    return Verdict(
        name,
        goal,
        f"1 client: p50 +{added_hit:.2f} ms (uncached +{added:.2f} ms); 50 clients: "
        f"{busy_hit.k6.rps:.0f} req/s (uncached {busy_uncached.k6.rps:.0f}), "
        f"{busy_hit.k6.errors} errors",
        added_hit < added and busy_hit.k6.rps > busy_uncached.k6.rps and busy_hit.k6.errors == 0,
    )


def judge(results: Results) -> list[Verdict]:
    out = []

    p50 = _added(results, "chat", 1, "p50")
    p99 = _added(results, "chat", 1, "p99")
    out.append(
        Verdict(
            "non-streaming, 1 client: added latency",
            "p50 ≤ 5 ms, p99 ≤ 12 ms",
            "-" if p50 is None or p99 is None else f"p50 +{p50:.2f} ms, p99 +{p99:.2f} ms",
            None if p50 is None or p99 is None else p50 <= 5 and p99 <= 12,
        )
    )

    run = results.find("gateway", "chat", 50)
    out.append(
        Verdict(
            "non-streaming, 50 clients: throughput",
            "≥ 250 req/s, 0 errors",
            "-"
            if run is None
            else f"{run.k6.rps:.0f} req/s, {run.k6.errors} errors, p99 {run.k6.p99:.1f} ms",
            None if run is None else run.k6.rps >= 250 and run.k6.errors == 0,
        )
    )

    run = results.find("gateway", "stream", 10)
    ttfb = _added(results, "stream", 10, "ttfb_p50")
    alone = _added(results, "stream", 1, "ttfb_p50")  # no queueing: the overhead itself
    out.append(
        Verdict(
            "streaming, 10 clients",
            "≥ 150 streams/s, added TTFB p50 ≤ 8 ms",
            "-"
            if run is None or ttfb is None
            else f"{run.k6.rps:.0f} streams/s, TTFB p50 +{ttfb:.2f} ms"
            + ("" if alone is None else f" (1 client: +{alone:.2f} ms)"),
            None if run is None or ttfb is None else run.k6.rps >= 150 and ttfb <= 8,
        )
    )

    out.append(_cache_verdict(results))

    ratios = []
    for mode in ("chat", "stream"):
        top = max((r.clients for r in results.runs if r.mode == mode), default=0)
        floor = results.find("floor", mode, top)
        gateway = results.find("gateway", mode, top)
        if floor and gateway and gateway.k6.rps > 0:
            ratios.append((mode, top, floor.k6.rps / gateway.k6.rps))
    out.append(
        Verdict(
            "full path vs three-bare-hops floor",
            "floor ÷ gateway throughput ≤ 1.5",
            ", ".join(f"{m} c={c}: {r:.2f}x" for m, c, r in ratios) or "-",
            None if not ratios else all(r <= 1.5 for _, _, r in ratios),
        )
    )

    for mode in BRIDGES:
        costs = sorted(results.bridge_costs("gateway", mode, 1))
        if costs:
            median = costs[(len(costs) - 1) // 2]
            out.append(
                Verdict(
                    f"{MODES[mode]}, 1 client: cost over chat",
                    "p50 difference ≤ 1 ms (median of interleaved rounds)",
                    f"{median:+.2f} ms over {len(costs)} rounds",
                    median <= 1.0,
                )
            )

    soak = results.soak
    if soak is None or not soak.samples:
        out.append(
            Verdict(
                "memory after a 5-minute soak",
                f"tiers ≤ {RSS_BUDGET_MB:.0f} MB RSS, no growth",
                f"not soaked; tiers {tiers_rss(results.rss_after):.0f} MB after the runs",
                None,
            )
        )
    else:
        final = tiers_rss(soak.samples[-1].rss)
        growth = soak_growth(soak)
        grew = growth.get("total", 0.0)
        out.append(
            Verdict(
                f"memory after a {duration_text(soak.seconds)} soak",
                f"tiers ≤ {RSS_BUDGET_MB:.0f} MB RSS, no growth, no errors",
                f"{final:.0f} MB, growth {grew:+.1f} MB, {soak.k6.errors} errors "
                f"of {soak.k6.requests}",
                final <= RSS_BUDGET_MB
                and grew <= RSS_GROWTH_LIMIT_MB
                and soak.k6.errors == 0
                and soak.seconds >= 300,
            )
        )
    return out
