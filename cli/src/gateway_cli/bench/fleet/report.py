"""docs/benchmarks-fleet.md and its plots, from the fleet benchmark's results."""

from __future__ import annotations

from pathlib import Path
from statistics import median
from typing import Any

import matplotlib

matplotlib.use("Agg")  # files only: no display on these machines

import matplotlib.pyplot as plt

from gateway_cli.bench.fleet.engines import SAMPLE_SECONDS
from gateway_cli.bench.fleet.fleet import POLICIES

LOAD_NAMES = {0.5: "50%", 0.8: "80%", 1.0: "100%", 1.5: "150%"}
# The loads the targets are set at: 80%, and the overload whose targets are ratios to it.
TARGET_LOAD = 0.8
OVERLOAD = 1.5


def _med(runs: list[dict[str, Any]], key: str) -> float | None:
    values = [r[key] for r in runs if r[key] is not None]
    return median(values) if values else None


def _fmt(value: float | None, unit: str = "s", scale: float = 1.0) -> str:
    return "-" if value is None else f"{value * scale:.2f}{unit}"


def _runs(cell: dict[str, Any], policy: str, load: float) -> list[dict[str, Any]]:
    return [r for r in cell["runs"] if r["policy"] == policy and r["load"] == load]


def _table(cell: dict[str, Any]) -> list[str]:
    lines = [
        "| policy | load | req/s | TTFT p50 | TTFT p99 | e2e p99 | output tok/s | prefix hit "
        "| shed low/normal/high | shed p99 (gateway's part) | failed | gateway CPU "
        "| machine busy |",
        "|---|---|---|---|---|---|---|---|---|---|---|---|---|",
    ]
    for load, name in LOAD_NAMES.items():
        for policy in POLICIES:
            runs = _runs(cell, policy, load)
            if not runs:
                continue
            shed = "/".join(str(sum(r["shed"][p] for r in runs)) for p in ("low", "normal", "high"))
            lines.append(
                f"| {policy} | {name} | {runs[0]['rate']:.2f} | {_fmt(_med(runs, 'ttft_p50'))} "
                f"| {_fmt(_med(runs, 'ttft_p99'))} | {_fmt(_med(runs, 'e2e_p99'))} "
                f"| {_med(runs, 'tokens_per_s') or 0:.1f} | {_med(runs, 'hit_rate') or 0:.0%} "
                f"| {shed} | {_shed_time(runs)} "
                f"| {sum(r['failed'] for r in runs)} | {_med(runs, 'gateway_cpu') or 0:.0f}% "
                f"| {_med(runs, 'machine_busy') or 0:.0f}% |"
            )
    return lines


def _shed_time(runs: list[dict[str, Any]]) -> str:
    client = _med(runs, "shed_p99_ms")
    if client is None:
        return "-"
    return f"{client:.0f} ms ({_med(runs, 'shed_gateway_p99_ms') or 0:.0f} ms)"


def _overload(cell: dict[str, Any], depth: int) -> list[str]:
    """The 150% targets, per policy: admitted TTFT p99 against 80%'s, time-outs, who was
    shed, how fast, with Retry-After; and how often the engines were saturated."""
    over_name, target_name = LOAD_NAMES[OVERLOAD], LOAD_NAMES[TARGET_LOAD]
    out = []
    for policy in POLICIES:
        over, target = _runs(cell, policy, OVERLOAD), _runs(cell, policy, TARGET_LOAD)
        # Both loads run in every round, in the same order: zip pairs a round's two runs.
        ratios = [
            a["ttft_p99"] / b["ttft_p99"]
            for a, b in zip(over, target, strict=False)
            if a["ttft_p99"] is not None and b["ttft_p99"]
        ]
        if not ratios:
            continue
        shed = {p: sum(r["shed"][p] for r in over) for p in ("low", "normal", "high")}
        if not shed["high"]:
            order = "no high shed"
        elif shed["low"] and shed["normal"]:
            order = "high shed last"
        else:
            order = "high shed while lower ones were not"
        out.append(
            f"- {policy}: TTFT p99 {median(ratios):.2f}x {target_name}'s "
            f"({min(ratios):.2f}-{max(ratios):.2f} over {len(ratios)} rounds); "
            f"{sum(r['timed_out'] for r in over)} timed out; "
            f"shed {shed['low']}/{shed['normal']}/{shed['high']} ({order}), "
            f"p99 {_shed_time(over)}, "
            f"{sum(r['shed_without_retry_after'] for r in over)} without Retry-After"
            + _saturation(over, depth)
        )
    if not out:
        return []
    return [
        "",
        f"At {over_name} load (targets: TTFT p99 <= 2x {target_name}'s, as the median of the "
        f"rounds' ratios; no time-out; shed p99 <= 50 ms). Engines: the share of the "
        f"engines' readings (every {SAMPLE_SECONDS:g} s) in which every replica had at least "
        f"{depth} waiting (the guard's lowest threshold; the guard also counts what it sent "
        "since its last reading) and in which some replica had nothing running or waiting:",
        "",
        *out,
    ]


def _saturation(runs: list[dict[str, Any]], depth: int) -> str:
    saturated, idle = _med(runs, "saturated"), _med(runs, "some_idle")
    if saturated is None or idle is None:
        return ""
    return f"; engines: every replica >= {depth} waiting {saturated:.0%}, some idle {idle:.0%}"


def _control(cell: dict[str, Any]) -> list[str]:
    """The control's comparison: load-aware against least-in-flight, with the spread."""
    la, lif = _runs(cell, "load_aware", TARGET_LOAD), _runs(cell, "least_in_flight", TARGET_LOAD)
    if not la or not lif:
        return []
    out = [
        "",
        f"At {LOAD_NAMES[TARGET_LOAD]} load, load-aware against least-in-flight (median, "
        "min-max of rounds):",
        "",
    ]
    for key, name in (
        ("ttft_p50", "TTFT p50"),
        ("ttft_p99", "TTFT p99"),
        ("tokens_per_s", "tok/s"),
    ):
        for policy, runs in (("load_aware", la), ("least_in_flight", lif)):
            values = [r[key] for r in runs if r[key] is not None]
            if values:
                low, high = min(values), max(values)
                out.append(f"- {name}, {policy}: {median(values):.2f} ({low:.2f}-{high:.2f})")
    if len(la) < 2:
        out.append("- one round: no spread to compare against (run with --rounds 5)")
    return out


def _ratios(cell: dict[str, Any], depth: int) -> list[str]:
    if not cell["shape"]["shared"]:
        return _control(cell) + _overload(cell, depth)
    la, rr = _runs(cell, "load_aware", TARGET_LOAD), _runs(cell, "round_robin", TARGET_LOAD)
    if not la or not rr:
        return []
    ttft = [
        a["ttft_p99"] / b["ttft_p99"]
        for a, b in zip(la, rr, strict=False)
        if a["ttft_p99"] and b["ttft_p99"]
    ]
    hit = [a["hit_rate"] / b["hit_rate"] for a, b in zip(la, rr, strict=False) if b["hit_rate"]]
    tokens = [
        a["tokens_per_s"] / b["tokens_per_s"]
        for a, b in zip(la, rr, strict=False)
        if b["tokens_per_s"]
    ]
    out = [
        "",
        f"At {LOAD_NAMES[TARGET_LOAD]} load, load-aware against round-robin (median of the "
        "rounds' ratios):",
        "",
    ]
    if ttft:
        out.append(f"- TTFT p99: {median(ttft):.2f}x (target <= 0.5x)")
    out.append(
        f"- prefix hit rate: {median(hit):.2f}x (target >= 2x)"
        if hit
        else f"- prefix hit rate: {_med(la, 'hit_rate') or 0:.0%} vs 0% for round-robin"
    )
    if tokens:
        out.append(f"- output tokens/s: {median(tokens):.2f}x (target >= 1x)")
    return out + _overload(cell, depth)


def _plot(cell: dict[str, Any], path: Path) -> None:
    fig, ax = plt.subplots(figsize=(6, 4))
    for policy in POLICIES:
        points = [
            (load * 100, _med(_runs(cell, policy, load), "ttft_p99"))
            for load in LOAD_NAMES
            if _runs(cell, policy, load)
        ]
        xs = [x for x, y in points if y is not None]
        ys = [y for _, y in points if y is not None]
        ax.plot(xs, ys, marker="o", label=policy)
    ax.set_xlabel("load (% of measured capacity)")
    ax.set_ylabel("TTFT p99 (s)")
    ax.set_title(cell["name"], fontsize=9)
    ax.set_yscale("log")
    ax.grid(True, alpha=0.3)
    ax.legend()
    fig.tight_layout()
    fig.savefig(path, dpi=100)
    plt.close(fig)


def write(results: dict[str, Any], output: Path) -> None:
    settings = results["settings"]
    lines = [
        "# Fleet benchmark: balancing policies on a simulated vLLM fleet",
        "",
        f"Reproduce: `{results['command']}` (started {results['started']}).",
        "",
        f"{settings['replicas']} replicas of the simulator's engine model (the profile in "
        "`simulator/src/simulator/engine/profile.py`: Llama-3.1-8B on one H100 under vLLM "
        f"v0.11.0) made {settings['slowdown']:g} times slower, with the KV cache each cell "
        "names, behind the whole gateway (edge, policy, router). Each replica's KV cache "
        "holds 0.3x or 0.45x of the tenants' shared system prompts (the fleet 1.2x or 1.8x): "
        "more than one replica holds, less than the fleet does, and little enough that "
        "round-robin, which hits about a replica's share by chance, stays below half, so "
        "that twice its hit rate can be reached at all. Open-loop Poisson arrivals "
        "of multi-turn chat sessions from 12 tenants, each with its own long system prompt; "
        "a quarter of the tenants' keys are high priority, a quarter low. Each run starts "
        f"with cold caches and lasts {settings['duration']:g} s after {settings['warmup']:g} s "
        f"of warm-up. The 80% and 150% loads, where the targets are, run in "
        f"{settings['rounds']} interleaved rounds (the policies in another order each round); "
        "50% and 100% run in the first round only, and the control at 80% only. Figures are "
        "medians of the rounds. A p99 is a nearest rank: in a run of fewer than 100 admitted "
        "requests it is the slowest one. Capacity is what round-robin completes with clients "
        "always waiting; loads are shares of it. Every policy's alias has the same "
        f"saturation guard (shed_queue_depth {settings['shed_queue_depth']}). Gateway CPU: "
        "edge + policy + router, in % of one core, over the run; machine busy: all cores, "
        "simulators and load included (near 100%, every figure the client times grows). "
        "Shed p99 is the client's time to the refusal; in brackets, the gateway's own part "
        "of it (`x-gateway-overhead-ms`: edge's time from the request's arrival to the "
        "answer's first byte, the body's upload included).",
        "",
        f"Cost of a load-aware decision (prefix key and choice, 8 replicas, a 2,000-token "
        f"prompt): {results['policy_cost_us']:.1f} µs of CPU (target < 50 µs).",
    ]
    for i, cell in enumerate(results["cells"]):
        plot = output.with_name(f"{output.stem}-{i + 1}.png")
        _plot(cell, plot)
        shape = cell["shape"]
        working = shape["tenants"] * shape["system_tokens"] if shape["shared"] else 0
        lines += [
            "",
            f"## {cell['name']}",
            "",
            f"Capacity: {cell['capacity']:.2f} req/s. KV cache per replica: "
            f"{cell['kv_blocks']} blocks ({cell['kv_blocks'] * 16:,} tokens); shared "
            f"working set: {working:,} tokens.",
            "",
            *_table(cell),
            *_ratios(cell, settings["shed_queue_depth"]),
            "",
            f"![TTFT p99 against load]({plot.name})",
        ]
    output.parent.mkdir(parents=True, exist_ok=True)
    output.write_text("\n".join(lines) + "\n")
