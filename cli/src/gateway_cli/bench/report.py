"""docs/benchmarks.md from one run's results, and the short version for the console."""

from __future__ import annotations

from gateway_cli.bench.results import BRIDGES, MODES, NOISY, Measurement, Results, Soak
from gateway_cli.bench.targets import (
    RSS_BUDGET_MB,
    RSS_GROWTH_LIMIT_MB,
    growth_span,
    judge,
    soak_growth,
    tiers_rss,
)

SUT_ORDER = ("edge", "policy", "router", "redis", "cache-redis", "hop1", "hop2", "hop3", "hop")


def _ms(value: float | None) -> str:
    return "-" if value is None else f"{value:.2f}"


def _delta(value: float | None, base: float | None) -> str:
    if value is None or base is None:
        return ""
    return f"{value - base:+.2f}"


def _ratio(value: float, base: float) -> str:
    return f"{value / base:.2f}x" if base > 0 else "-"


def _table(header: list[str], rows: list[list[str]]) -> list[str]:
    out = ["| " + " | ".join(header) + " |", "|" + "|".join("---" for _ in header) + "|"]
    out += ["| " + " | ".join(row) + " |" for row in rows]
    return out


def _latency_rows(results: Results, mode: str) -> list[list[str]]:
    rows = []
    for run in (r for r in results.runs if r.mode == mode):
        direct = results.find("simulator", mode, run.clients)
        d = direct.k6 if direct and run.target != "simulator" else None
        k = run.k6
        row = [str(run.clients), run.title, f"{k.rps:.0f}"]
        if mode == "stream":
            row += [_ms(k.ttfb_p50), _ms(k.ttfb_p99)]
        row += [_ms(k.p50), _ms(k.p99), str(k.errors)]
        if mode == "stream":
            row.append(_delta(k.ttfb_p50, d.ttfb_p50) if d else "")
        row += [
            _delta(k.p50, d.p50) if d else "",
            _delta(k.p99, d.p99) if d else "",
            _ratio(k.rps, d.rps) if d else "",
        ]
        rows.append(row)
    return rows


def _bridges(results: Results) -> list[str]:
    rows = []
    for run in (r for r in results.runs if r.mode in BRIDGES):
        chat = results.find(run.target, "chat", run.clients)
        diffs = sorted(results.bridge_costs(run.target, run.mode, run.clients))
        if not diffs or chat is None:
            continue
        rows.append(
            [
                MODES[run.mode],
                str(run.clients),
                run.title,
                f"{run.k6.rps:.0f}",
                _ms(run.k6.p50),
                _ms(chat.k6.p50),
                f"{diffs[(len(diffs) - 1) // 2]:+.2f}",
                f"{diffs[0]:+.2f} … {diffs[-1]:+.2f}",
                str(run.k6.errors),
            ]
        )
    if not rows:
        return []
    return [
        "",
        "## Bridges",
        "",
        "The same question as a Responses or Messages request, which the router translates to "
        "chat completions for the simulator and the answer back, measured in the same rounds "
        "as the gateway's own chat. *Bridge cost* is the median over rounds of (bridge p50 minus "
        "chat p50 of that round); *spread* is the smallest and largest of those differences.",
        "",
        *_table(
            [
                "API",
                "clients",
                "system",
                "req/s",
                "p50 ms",
                "chat p50 ms",
                "bridge cost p50 ms",
                "spread ms",
                "errors",
            ],
            rows,
        ),
    ]


def _cpu_cell(run: Measurement) -> str:
    parts = [
        f"{name} {run.window.cpu_percent(name):.0f}" for name in SUT_ORDER if name in run.window.cpu
    ]
    return " · ".join(parts)


def _cpu_rows(results: Results) -> list[list[str]]:
    rows = []
    for run in [*results.runs, *results.clients]:
        w = run.window
        other_sut, other_load = run.other_load(results.cores["sut"], results.cores["load"])
        rows.append(
            [
                MODES[run.mode],
                str(run.clients),
                run.title,
                _cpu_cell(run) if run.sut else "-",
                f"{run.sut_cpu_percent():.0f}" if run.sut else "-",
                f"{w.cpu_percent('simulator'):.0f}",
                f"{w.cpu_percent('k6'):.0f}",
                f"{run.cpu_ms_per_request():.2f}" if run.sut else "-",
                (f"{other_sut:.0f}" if run.sut else "-") + f" / {other_load:.0f}"
                if results.cores["sut"]
                else "-",
            ]
        )
    return rows


def _noise(results: Results) -> list[str]:
    """A warning when something else ran on the cores under test during a run."""
    if not results.cores["sut"]:
        return []
    runs = [r for r in (*results.runs, *results.clients) if r.sut]
    others = [r.other_load(results.cores["sut"], results.cores["load"])[0] for r in runs]
    if not others or max(others) <= NOISY:
        return []
    run = runs[others.index(max(others))]
    return [
        "",
        f"**Noise:** processes we did not start used up to {max(others):.0f}% of the "
        f"system-under-test core during a run ({MODES[run.mode]}, {run.clients} clients, "
        f"{run.title}); figures from such runs understate the gateway. Re-run on a quiet "
        "machine.",
    ]


def _soak_lines(soak: Soak) -> list[str]:
    k = soak.k6
    lines = [
        f"{soak.seconds:g} s at {soak.rate} requests/s through the gateway "
        f"({soak.stream_share:.0%} streaming), `k6/soak.js`: {k.requests} requests, "
        f"{k.errors} errors, p50 {k.p50:.2f} ms, p99 {k.p99:.2f} ms"
        + (f", failed thresholds: {', '.join(k.failed_thresholds)}" if k.failed_thresholds else "")
        + ".",
        "",
        "RSS (MB) over time:",
        "",
    ]
    step = max(1, len(soak.samples) // 12)
    picked = soak.samples[::step]
    if picked[-1] is not soak.samples[-1]:
        picked.append(soak.samples[-1])
    header = ["t (s)", *soak.tiers, "tiers total"]
    rows = [
        [f"{s.t:.0f}", *(f"{s.rss[n]:.1f}" for n in soak.tiers), f"{tiers_rss(s.rss):.1f}"]
        for s in picked
    ]
    lines += _table(header, rows)
    growth = soak_growth(soak)
    if growth:
        span = growth_span(soak)
        lines += [
            "",
            f"Growth (mean RSS of the last {span:g} s minus that of {span:g} to {2 * span:g} s; "
            f"the first {span:g} s are warm-up): "
            + ", ".join(f"{n} {v:+.1f} MB" for n, v in growth.items())
            + f". The target allows no growth (within {RSS_GROWTH_LIMIT_MB:g} MB for the three "
            f"tiers) and at most {RSS_BUDGET_MB:g} MB for the three tiers together.",
        ]
    return lines


def _limits(results: Results) -> list[str]:
    """What bounded each run at the highest concurrency: the cores, and the CPU time the
    system under test spends per request (a whole core serves at most 1000 / that)."""
    sut, load = results.cores["sut"], results.cores["load"]
    if not sut:
        return []
    top = max(r.clients for r in results.runs)
    notes = []
    for run in results.runs:
        if run.clients < top or not run.sut:
            continue
        busy = run.window.core_busy
        used = run.sut_cpu_percent()
        per_request = run.cpu_ms_per_request()
        ceiling = 1000.0 * len(sut) / per_request if per_request else 0.0
        notes.append(
            f"- {MODES[run.mode]}, {run.clients} clients, {run.title}: its processes used "
            f"{used:.0f}% of core(s) {','.join(map(str, sut))} "
            f"({sum(busy.get(c, 0.0) for c in sut):.0f}% busy in all), "
            f"{per_request:.2f} ms of CPU per request, so at most ~{ceiling:.0f} req/s on "
            f"that core; the load core(s) were {sum(busy.get(c, 0.0) for c in load):.0f}% "
            f"busy (k6 {run.window.cpu_percent('k6'):.0f}%, simulator "
            f"{run.window.cpu_percent('simulator'):.0f}%, the rest other processes)."
        )
    return notes


def _versus_baseline(results: Results) -> list[str]:
    """This checkout against the commit ``--compare`` named, measured in the same rounds:
    added latency (vs the simulator direct), throughput and the floor ratio of each."""
    rows = []
    for old in (r for r in results.runs if r.target == "baseline"):
        new = results.find("gateway", old.mode, old.clients)
        direct = results.find("simulator", old.mode, old.clients)
        floor = results.find("floor", old.mode, old.clients)
        if new is None or direct is None:
            continue
        d = direct.k6
        rows.append(
            [
                MODES[old.mode],
                str(old.clients),
                _delta(old.k6.p50, d.p50),
                _delta(new.k6.p50, d.p50),
                f"{old.k6.rps:.0f}",
                f"{new.k6.rps:.0f}",
                _ratio(new.k6.rps, old.k6.rps),
                _ratio(floor.k6.rps, old.k6.rps) if floor else "-",
                _ratio(floor.k6.rps, new.k6.rps) if floor else "-",
            ]
        )
    if not rows:
        return []
    title = next(r.title for r in results.runs if r.target == "baseline")
    return [
        "",
        f"## This checkout vs {title.removeprefix('gateway at ')}",
        "",
        *_table(
            [
                "mode",
                "clients",
                "added p50 (before)",
                "added p50 (now)",
                "req/s (before)",
                "req/s (now)",
                "now ÷ before",
                "floor ratio (before)",
                "floor ratio (now)",
            ],
            rows,
        ),
    ]


def render(results: Results) -> str:
    s = results.settings
    lines = [
        "# Benchmarks",
        "",
        "Generated by `uv run gateway bench` (this file: "
        f"`{results.command}`, {results.started}). Do not edit by hand; re-run the command.",
        "",
        "All traffic is on loopback. k6 calls one of these systems, each in front of the same "
        "simulator (zero latency, 16 output tokens):",
        "",
        "- **simulator (direct)**: no gateway at all, the baseline;",
        "- **floor (3 bare hops)**: three chained minimal FastAPI apps, each forwarding with the "
        "client its tier uses (the first two with the tiers' hop client, `gateway_shared.hop`; "
        "the third with the router adapters' client, `router.providers.http_client`), the best "
        "this architecture can do in Python (`cli/src/gateway_cli/bench/floor.py`);",
        "- **gateway**: edge → policy → router with a key whose plan has rpm/tpm limits, so every "
        "request pays policy's Redis admission and settlement;",
        "- **cached**: the same gateway with a key whose plan also has a response cache: k6 "
        "sends one request over and over, so every request after the first is a hit (one "
        "Redis round trip to admit it, one to read the entry; no router, no provider).",
        "",
        "## Targets",
        "",
    ]
    lines += _table(
        ["target", "goal", "measured", "met"],
        [
            [v.name, v.goal, v.measured, "-" if v.met is None else ("yes" if v.met else "**no**")]
            for v in judge(results)
        ],
    )
    lines += [
        "",
        "## Method and machine",
        "",
        f"- Pinning: {results.layout}.",
        f"- Each run: {s['warmup']:g} s warm-up, then `k6/bench.js` with a fixed number of "
        f"clients (constant VUs, closed loop: a client sends its next request when the answer "
        f"is complete) for {s['duration']:g} s. Each configuration is run in "
        f"{s.get('rounds', 1)} round(s) that interleave the systems (simulator, floor, gateway, "
        "cached, then again), and the round with the median throughput is reported: the "
        "speed of these virtual machines drifts by tens of percent from one minute to the "
        "next, and interleaving makes the drift reach every system alike.",
        "- Latency is k6's `http_req_duration` (request sent → last byte); TTFB is "
        "`http_req_waiting` (request sent → first byte; the tiers send a stream's headers with "
        "its first chunk). *Added* = gateway (or floor) minus simulator direct, same percentile "
        "and concurrency; *vs direct* = throughput ÷ the simulator's own.",
        "- CPU is each process's user+system time over the run, in % of one core; *CPU/req* is "
        "the system under test's CPU time per request (tiers + Redis, or the hops). *Others* is "
        "what processes we did not start used on those cores (machine noise), from the "
        "kernel's per-core counters; a run with more than "
        f"{NOISY:g}% is repeated (`--retries`) and the quietest kept.",
        "- Where the tiers spend that CPU: `uv run gateway bench --profile perf` (or "
        "`cprofile`) profiles each tier under the same load and writes the hotspots to "
        "`.gateway-bench/profiles/`.",
        "",
    ]
    lines += _table(["", ""], [[k, v] for k, v in results.machine.items()])
    for mode in ("chat", "stream"):
        rows = _latency_rows(results, mode)
        if not rows:
            continue
        unit = "streams/s" if mode == "stream" else "req/s"
        header = ["clients", "system", unit]
        if mode == "stream":
            header += ["TTFB p50", "TTFB p99"]
        total = "total " if mode == "stream" else ""
        header += [f"{total}p50 ms", f"{total}p99 ms", "errors"]
        if mode == "stream":
            header.append("added TTFB p50")
        header += [f"added {total}p50", f"added {total}p99", "vs direct"]
        lines += ["", f"## {MODES[mode].capitalize()}", ""]
        lines += _table(header, rows)
    floor_rows = []
    for run in (r for r in results.runs if r.target in ("gateway", "baseline")):
        floor = results.find("floor", run.mode, run.clients)
        if floor:
            floor_rows.append(
                [
                    MODES[run.mode],
                    str(run.clients),
                    run.title,
                    f"{floor.k6.rps:.0f}",
                    f"{run.k6.rps:.0f}",
                    _ratio(floor.k6.rps, run.k6.rps),
                ]
            )
    if floor_rows:
        lines += ["", "## Full path vs floor", ""]
        lines += _table(
            ["mode", "clients", "system", "floor req/s", "system req/s", "floor ÷ system"],
            floor_rows,
        )
    lines += _versus_baseline(results)
    lines += _bridges(results)
    lines += ["", "## CPU", ""]
    lines += _table(
        [
            "mode",
            "clients",
            "system",
            "system under test, % of a core",
            "total %",
            "simulator %",
            "k6 %",
            "CPU ms/req",
            "others on SUT / load cores %",
        ],
        _cpu_rows(results),
    )
    lines += _noise(results)
    if results.rss_after:
        lines += ["", "## Memory", "", "RSS after the runs above (MB):", ""]
        names = list(results.rss_after)
        lines += _table(
            [*names, "tiers total"],
            [
                [f"{results.rss_after[n]:.1f}" for n in names]
                + [f"{tiers_rss(results.rss_after):.1f}"]
            ],
        )
    if results.clients:
        lines += [
            "",
            "## HTTP clients",
            "",
            "One bare hop in front of the simulator, same server, only the client differs "
            "(stock `httpx.AsyncClient`; httpx over `httpx-aiohttp`, the router adapters' "
            "client; aiohttp directly, the tiers' hop client), non-streaming:",
            "",
        ]
        lines += _table(
            ["client", "clients", "req/s", "p50 ms", "p99 ms", "errors", "hop CPU %"],
            [
                [
                    r.title,
                    str(r.clients),
                    f"{r.k6.rps:.0f}",
                    _ms(r.k6.p50),
                    _ms(r.k6.p99),
                    str(r.k6.errors),
                    f"{r.window.cpu_percent('hop'):.0f}",
                ]
                for r in results.clients
            ],
        )
    if results.soak:
        lines += ["", "## Soak", ""]
        lines += _soak_lines(results.soak)
    notes = _limits(results)
    if notes:
        lines += ["", "## What limits", "", *notes]
    return "\n".join(lines) + "\n"


CONSOLE_SECTIONS = (
    "Non-streaming",
    "Streaming",
    "Full path vs floor",
    "This checkout vs",
    "Bridges",
    "HTTP client between tiers",
)


def console(results: Results) -> str:
    """The latency tables and the verdicts, for the terminal."""
    sections = render(results).split("\n## ")
    lines = [""]
    for section in sections[1:]:
        title = section.split("\n", 1)[0]
        if title.startswith(CONSOLE_SECTIONS):
            lines += [f"## {section.rstrip()}", ""]
    for v in judge(results):
        met = "-" if v.met is None else ("MET" if v.met else "NOT MET")
        lines.append(f"{met:8} {v.name}: {v.measured}  (goal {v.goal})")
    return "\n".join(lines)
