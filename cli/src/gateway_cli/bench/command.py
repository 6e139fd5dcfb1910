"""``gateway bench``: the simulator alone, the floor and the gateway, at 1, 10 and 50
clients, streaming and not, in one run; the HTTP client comparison; (full run) a soak;
then the report.

    uv run gateway bench                  # full run (~18 min): writes docs/benchmarks.md
    uv run gateway bench --quick          # ~3 min: writes .gateway-bench/benchmarks.md
    uv run gateway bench --soak 300 ...   # add (or, with --quick, force) the soak
    uv run gateway bench --profile perf   # where the tiers spend their time (no report)
    uv run gateway bench --compare REV    # this checkout and commit REV in the same rounds
                                          # (report: .gateway-bench/benchmarks.md)
    uv run gateway bench --fleet          # balancing policies on a simulated vLLM fleet
                                          # (~13 min; --full: 4 cells x 5 rounds, ~50 min):
                                          # writes docs/benchmarks-fleet.md
"""

from __future__ import annotations

import argparse
import json
import os
import shlex
import sys
import time
from dataclasses import asdict, dataclass
from datetime import UTC, datetime
from pathlib import Path

from gateway_cli.bench import baseline, machine, profiling, report
from gateway_cli.bench.fleet import run as fleet_run
from gateway_cli.bench.pinning import Layout, choose_layout, pin
from gateway_cli.bench.results import BRIDGES, MODES, NOISY, Measurement, Results
from gateway_cli.bench.runner import Runner
from gateway_cli.bench.sampling import rss_mb
from gateway_cli.bench.systems import Systems, Target

HOP_CLIENTS = ("httpx", "httpx-aiohttp", "aiohttp")


@dataclass(frozen=True)
class Settings:
    duration: float
    warmup: float
    clients: tuple[int, ...]
    modes: tuple[str, ...]
    soak: float
    soak_rate: int
    soak_stream_share: float
    floor: bool
    client_comparison: bool
    retries: int
    rounds: int


def add_parser(sub: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    bench = sub.add_parser(
        "bench",
        help="benchmark the gateway against the simulator and the bare-hop floor",
        description=__doc__,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    bench.add_argument("--quick", action="store_true", help="short runs, no soak (~3 min)")
    bench.add_argument("--duration", type=float, help="seconds per measured run (10; quick 4)")
    bench.add_argument("--warmup", type=float, help="seconds of warm-up per run (2; quick 1)")
    bench.add_argument("--clients", default="1,10,50", help="concurrency levels (1,10,50)")
    bench.add_argument(
        "--modes",
        default="chat,stream",
        help="chat (non-streaming), stream, responses, messages (the bridges, measured "
        "against the gateway's chat in the same rounds)",
    )
    bench.add_argument("--soak", type=float, help="soak seconds through the gateway (300; quick 0)")
    bench.add_argument(
        "--soak-rate",
        type=int,
        default=50,
        help="soak requests/s (50: well below what the gateway serves on one core)",
    )
    bench.add_argument("--soak-stream-share", type=float, default=0.2, help="(0.2)")
    bench.add_argument("--no-floor", action="store_true", help="skip the three-hop floor")
    bench.add_argument(
        "--no-client-comparison",
        action="store_true",
        help="skip stock httpx vs httpx-aiohttp vs aiohttp",
    )
    bench.add_argument(
        "--retries",
        type=int,
        default=1,
        help="repeat a run (keeping the quietest) when other processes used more than "
        f"{NOISY:g}%% of a core it measures (1)",
    )
    bench.add_argument(
        "--rounds",
        type=int,
        help="interleaved rounds per configuration, the median kept (3; quick 1)",
    )
    bench.add_argument(
        "--compare",
        metavar="REV",
        help="also measure the gateway at git revision REV, interleaved with this checkout "
        "(checked out and installed under the workdir; the report goes there too)",
    )
    bench.add_argument("--sut-cores", help="cores for the system under test (default: 0)")
    bench.add_argument("--workdir", type=Path, default=Path(".gateway-bench"))
    bench.add_argument(
        "--output", type=Path, help="report (docs/benchmarks.md; quick, compare: workdir)"
    )
    bench.add_argument(
        "--profile",
        choices=profiling.PROFILERS,
        help="instead of the benchmark: profile each tier under load and print the hotspots",
    )
    fleet_run.add_arguments(bench)


def _settings(args: argparse.Namespace) -> Settings:
    quick = bool(args.quick)
    modes = tuple(m for m in args.modes.split(",") if m)
    unknown = set(modes) - set(MODES)
    if unknown:
        raise SystemExit(f"error: unknown mode(s) {sorted(unknown)}: use {', '.join(MODES)}")
    if set(modes) & set(BRIDGES) and "chat" not in modes:
        modes = ("chat", *modes)  # a bridge's cost is its difference from chat
    return Settings(
        duration=args.duration or (4.0 if quick else 10.0),
        warmup=args.warmup if args.warmup is not None else (1.0 if quick else 2.0),
        clients=tuple(int(x) for x in args.clients.split(",") if x.strip()),
        modes=modes,
        soak=args.soak if args.soak is not None else (0.0 if quick else 300.0),
        soak_rate=args.soak_rate,
        soak_stream_share=args.soak_stream_share,
        floor=not args.no_floor,
        client_comparison=not args.no_client_comparison,
        retries=max(0, args.retries),
        rounds=max(1, args.rounds or (1 if quick else 3)),
    )


def say(message: str) -> None:
    print(f"[{time.strftime('%H:%M:%S')}] {message}", flush=True)


def run(args: argparse.Namespace) -> int:
    if args.fleet:
        return fleet_run.run(args, say)
    workdir: Path = args.workdir.resolve()
    workdir.mkdir(parents=True, exist_ok=True)
    layout = choose_layout(args.sut_cores)
    described = machine.describe()  # before pinning: it counts the usable cores
    # The benchmark process itself (mostly asleep) stays off the cores under test.
    pin(os.getpid(), layout.load)
    if args.profile:
        return profiling.run(args.profile, workdir, layout, args.duration or 15.0, say)
    settings = _settings(args)
    compared = baseline.prepare(args.compare, workdir) if args.compare else None
    # Only a full run of this checkout alone is the committed report.
    output: Path = args.output or (
        workdir / "benchmarks.md" if args.quick or args.compare else Path("docs/benchmarks.md")
    )
    argv = sys.argv[1:]
    results = Results(
        command="uv run gateway " + shlex.join(argv if argv[:1] == ["bench"] else ["bench"]),
        started=datetime.now(UTC).strftime("%Y-%m-%d %H:%M UTC"),
        machine=described,
        layout=layout.describe(),
        cores={"sut": sorted(layout.sut or ()), "load": sorted(layout.load or ())},
        settings=asdict(settings),
    )
    benchmark(settings, layout, workdir, results, compared)
    (workdir / "results.json").write_text(json.dumps(results.to_json(), indent=1))
    output.parent.mkdir(parents=True, exist_ok=True)
    output.write_text(report.render(results))
    print(report.console(results), flush=True)
    say(f"report: {output}   raw results: {workdir / 'results.json'}")
    return 0


def median_run(runs: list[Measurement]) -> Measurement:
    """The round with the median throughput (the lower middle one of an even count)."""
    ranked = sorted(runs, key=lambda run: run.k6.rps)
    return ranked[(len(ranked) - 1) // 2]


def benchmark(
    settings: Settings,
    layout: Layout,
    workdir: Path,
    results: Results,
    compared: baseline.Baseline | None = None,
) -> None:
    hop_clients = HOP_CLIENTS if settings.client_comparison else ()
    say(f"starting the stack, the floor and the hops in {workdir}")
    say(f"pinning: {layout.describe()}")
    with Systems(
        workdir, layout, floor=settings.floor, hop_clients=hop_clients, baseline=compared
    ) as systems:
        runner = Runner(workdir, layout, settings.duration, settings.warmup, workdir / "k6.log")
        cores = (sorted(layout.sut or ()), sorted(layout.load or ()))

        def measure(target: Target, mode: str, clients: int, round_: int = 1) -> Measurement:
            best: tuple[float, Measurement] | None = None
            for attempt in range(settings.retries + 1):
                run = runner.measure(target, mode, clients, round_=round_)
                other_sut, other_load = run.other_load(*cores)
                noise = other_sut if run.sut else other_load
                if best is None or noise < best[0]:
                    best = (noise, run)
                if noise <= NOISY or not layout.pinned:
                    break
                say(f"{'':19}noisy ({noise:.0f}% of a core used by others), again ({attempt + 1})")
            assert best is not None
            return best[1]

        order = [
            t
            for t in ("simulator", "floor", "gateway", "cached", "baseline")
            if t in systems.targets
        ]
        for clients in settings.clients:
            # Rounds interleave the systems and the modes, so a drift in the machine's speed
            # (tens of percent between minutes on these VMs) reaches them all alike.
            rounds: dict[tuple[str, str], list[Measurement]] = {}
            for round_ in range(1, settings.rounds + 1):
                for mode in settings.modes:
                    # Only the gateway serves the bridges: nothing to compare them with.
                    names = [
                        n for n in order if mode not in BRIDGES or n in ("gateway", "baseline")
                    ]
                    # Every other round in reverse: no system is always measured first or
                    # always right after the same other one.
                    if round_ % 2 == 0:
                        names.reverse()
                    for name in names:
                        target = systems.targets[name]
                        say(f"{mode:9} {clients:>3} clients  {target.title}  round {round_}")
                        measured = measure(target, mode, clients, round_)
                        rounds.setdefault((mode, name), []).append(measured)
                        k6 = measured.k6
                        say(
                            f"{'':19}{k6.rps:8.1f} req/s  p50 {k6.p50:6.2f} ms  "
                            f"p99 {k6.p99:6.2f} ms  errors {k6.errors}"
                        )
            for measured_rounds in rounds.values():
                results.runs.append(median_run(measured_rounds))
                results.rounds.extend(measured_rounds)
        top = max(settings.clients)
        for client in hop_clients:
            target = systems.targets[f"hop-{client}"]
            say(f"client comparison: {target.title}, {top} clients")
            measured = measure(target, "chat", top)
            results.clients.append(measured)
            say(f"{'':19}{measured.k6.rps:8.1f} req/s  p99 {measured.k6.p99:6.2f} ms")
        gateway = systems.targets["gateway"]
        results.rss_after = {k: round(v, 1) for k, v in rss_mb(systems.pids()).items()}
        if settings.soak > 0:
            say(f"soak: {settings.soak:g}s at {settings.soak_rate} req/s through the gateway")
            results.soak = runner.soak(
                gateway, settings.soak, settings.soak_rate, settings.soak_stream_share
            )
