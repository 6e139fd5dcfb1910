"""The fleet benchmark's course: capacity first, then every policy at every load,
interleaved round by round, for each cell (KV cache size x system-prompt length) and
the control workload; then the report.

Sizing: the simulated GPU is the engine profile made ``--slowdown`` times slower, with a
KV cache of a few hundred blocks, so that four replicas saturate at a few requests per
second: the fleet, not the gateway, is the bottleneck on a small machine (the report
gives the gateway's CPU in every run).
"""

from __future__ import annotations

import argparse
import asyncio
import json
import time
from collections.abc import Callable, Coroutine
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

from gateway_cli.bench.fleet import cost, engines, report
from gateway_cli.bench.fleet.driver import Driver, Outcome, closed_loop, open_loop, window
from gateway_cli.bench.fleet.fleet import CAPACITY_ALIAS, POLICIES, Engine, Fleet, alias
from gateway_cli.bench.fleet.report import LOAD_NAMES, OVERLOAD, TARGET_LOAD
from gateway_cli.bench.fleet.stats import RunStats
from gateway_cli.bench.fleet.workload import Shape, Workload
from gateway_cli.bench.sampling import Meter

LOADS = tuple(LOAD_NAMES)
# The loads the targets are set at run every round (the overload's targets are ratios to
# the 80% run of the same round), the others in the first only: their rows show the
# curve's shape, and no target is a ratio of them.
TARGET_LOADS = (TARGET_LOAD, OVERLOAD)
CAPACITY_SECONDS = 15.0


@dataclass(frozen=True)
class Cell:
    name: str
    kv_blocks: int
    shape: Shape
    loads: tuple[float, ...] = LOADS


@dataclass(frozen=True)
class FleetSettings:
    replicas: int
    slowdown: float
    duration: float
    warmup: float
    rounds: int
    shed_queue_depth: int
    cells: tuple[Cell, ...]
    loads: tuple[float, ...]
    seed: int


def add_arguments(bench: argparse.ArgumentParser) -> None:
    group = bench.add_argument_group("fleet (--fleet)")
    group.add_argument("--fleet", action="store_true", help="compare balancing policies on a fleet")
    group.add_argument("--replicas", type=int, default=4, help="simulated replicas (4)")
    group.add_argument("--slowdown", type=float, default=10.0, help="GPU slowdown (10)")
    group.add_argument("--full", action="store_true", help="4 cells, 5 rounds (~62 min)")
    group.add_argument("--shed-queue-depth", type=int, default=2, help="(2)")
    group.add_argument("--no-control", action="store_true", help="skip the control workload")
    group.add_argument(
        "--cell", type=int, action="append", help="run only this cell (0-based, repeat)"
    )
    group.add_argument(
        "--load", type=float, action="append", help="run only this load (e.g. 0.8, repeat)"
    )
    group.add_argument("--seed", type=int, default=21)
    group.add_argument(
        "--vllm-url", action="append", default=[], help="a real vLLM base URL (repeat)"
    )
    group.add_argument("--vllm-model", help="the model the real vLLM servers serve")


def _cell(shape: Shape, share: float) -> Cell:
    """A cell whose replicas each hold ``share`` of the shared working set: one replica
    cannot hold every tenant's prefix, the fleet can (with room for the requests). The
    shares (0.3 and 0.45 of it, 1.2 and 1.8 times it over four replicas) keep what
    round-robin hits by chance - about a replica's share - below half, so that twice
    its hit rate is a target a policy can reach at all."""
    blocks = round(share * shape.working_set_tokens() / 16)
    name = (
        f"shared {shape.system_tokens}-token system prompts, KV cache {share:g}x the "
        f"working set ({blocks} blocks)"
    )
    return Cell(name, blocks, shape)


def fleet_settings(args: argparse.Namespace) -> FleetSettings:
    long, short = Shape(system_tokens=2000), Shape(system_tokens=1000)
    cells = [_cell(long, 0.3)]
    if args.full:
        cells += [_cell(long, 0.45), _cell(short, 0.3), _cell(short, 0.45)]
    if not args.no_control:
        # Its targets are at the target load alone: the other loads are not run.
        blocks = cells[0].kv_blocks
        control = Shape(system_tokens=2000, shared=False)
        name = f"control: no shared prefix ({blocks} blocks)"
        cells.append(Cell(name, blocks, control, (TARGET_LOAD,)))
    if args.cell:
        cells = [cells[i] for i in args.cell]
    return FleetSettings(
        replicas=len(args.vllm_url) or args.replicas,
        slowdown=args.slowdown,
        duration=args.duration or 15.0,
        warmup=args.warmup if args.warmup is not None else 5.0,
        rounds=args.rounds or (5 if args.full else 3),
        shed_queue_depth=args.shed_queue_depth,
        cells=tuple(cells),
        loads=tuple(args.load or LOADS),
        seed=args.seed,
    )


def run(args: argparse.Namespace, say: Callable[[str], None]) -> int:
    settings = fleet_settings(args)
    workdir: Path = args.workdir.resolve() / "fleet"
    output: Path = args.output or Path("docs/benchmarks-fleet.md")
    vllm = (list(args.vllm_url), args.vllm_model) if args.vllm_url else None
    if vllm is not None and not args.vllm_model:
        raise SystemExit("error: --vllm-url needs --vllm-model")
    first = settings.cells[0]
    fleet = Fleet(
        workdir,
        settings.replicas,
        Engine(settings.slowdown, first.kv_blocks),
        settings.shed_queue_depth,
        vllm,
    )
    say(f"fleet: {settings.replicas} replicas in {workdir}")
    results: dict[str, object] = {
        "command": "uv run gateway bench --fleet" + (" --full" if args.full else ""),
        "settings": asdict(settings),
        "started": time.strftime("%Y-%m-%d %H:%M UTC", time.gmtime()),
        "policy_cost_us": cost.decision_us(replicas=8, prompt_tokens=2000),
        "cells": [],
    }
    try:
        fleet.start()
        for cell in settings.cells:
            if vllm is None and fleet.engine and fleet.engine.kv_blocks != cell.kv_blocks:
                fleet.resize(Engine(settings.slowdown, cell.kv_blocks))
            results["cells"].append(_run_cell(fleet, cell, settings, say))  # type: ignore[attr-defined]
    finally:
        fleet.stop()
    (workdir / "results.json").write_text(json.dumps(results, indent=1, default=str))
    report.write(results, output)
    say(f"report: {output}")
    return 0


def _run_cell(
    fleet: Fleet, cell: Cell, settings: FleetSettings, say: Callable[[str], None]
) -> dict[str, object]:
    say(f"cell: {cell.name}")
    fleet.reset()
    capacity = _capacity(fleet, cell, settings)
    say(f"  capacity {capacity:.2f} req/s")
    runs: list[dict[str, object]] = []
    loads = [load for load in cell.loads if load in settings.loads]
    for round_ in range(settings.rounds):
        for load in loads if round_ == 0 else [x for x in loads if x in TARGET_LOADS]:
            # Each round starts the policies in another order, so drift reaches them alike.
            order = POLICIES[round_ % 3 :] + POLICIES[: round_ % 3]
            for policy in order:
                fleet.reset()
                stats, outcomes = _open(
                    fleet, cell, settings, policy, load=load, rate=capacity * load, round_=round_
                )
                # Each request too, so that a tail can be looked into (results.json).
                runs.append(asdict(stats) | {"outcomes": [asdict(o) for o in outcomes]})
                say(
                    f"  round {round_ + 1} {policy:16} {load:4.0%}: ttft p99 "
                    f"{_s(stats.ttft_p99)}  hit {stats.hit_rate:.0%}  shed {stats.shed}  "
                    f"failed {stats.failed}  gateway cpu {stats.gateway_cpu:.0f}%  "
                    f"machine busy {stats.machine_busy:.0f}%"
                )
    return {
        "name": cell.name,
        "kv_blocks": cell.kv_blocks,
        "shape": asdict(cell.shape),
        "capacity": capacity,
        "runs": runs,
    }


def _s(value: float | None) -> str:
    return "-" if value is None else f"{value:.2f}s"


def _capacity(fleet: Fleet, cell: Cell, settings: FleetSettings) -> float:
    """Requests per second round-robin completes with clients always waiting (counted by
    when they ended, over at least ``CAPACITY_SECONDS`` after the warm-up)."""
    driver = Driver(fleet.base_url, fleet.keys, CAPACITY_ALIAS)
    workload = Workload(cell.shape, settings.seed)
    clients = 6 * settings.replicas
    measured = max(settings.duration, CAPACITY_SECONDS)
    end = settings.warmup + measured
    asyncio.run(closed_loop(driver, workload, clients, end))
    done = [
        o
        for o in driver.outcomes
        if o.ok and o.e2e is not None and settings.warmup <= o.sent + o.e2e <= end
    ]
    if not done:
        raise SystemExit("error: the fleet completed no request while its capacity was measured")
    return len(done) / measured


def _open(
    fleet: Fleet,
    cell: Cell,
    settings: FleetSettings,
    policy: str,
    *,
    load: float,
    rate: float,
    round_: int,
) -> tuple[RunStats, list[Outcome]]:
    driver = Driver(fleet.base_url, fleet.keys, alias(policy))
    workload = Workload(cell.shape, settings.seed + round_)
    meter = Meter(fleet.gateway_pids())
    seconds = settings.warmup + settings.duration
    meter.start()
    started, readings = asyncio.run(
        _sampled(open_loop(driver, workload, rate, seconds, settings.seed + round_), fleet)
    )
    measured = meter.stop()
    cpu = sum(measured.cpu_percent(n) for n in ("edge", "policy", "router"))
    busy = sum(measured.core_busy.values()) / len(measured.core_busy)
    outcomes = window(driver.outcomes, settings.warmup, seconds)
    measuring = [r for r in readings if settings.warmup <= r.at - started < seconds]
    stats = RunStats.of(
        policy,
        load=load,
        rate=rate,
        seconds=settings.duration,
        outcomes=outcomes,
        gateway_cpu=cpu,
        machine_busy=busy,
        engines=engines.EngineStats.of(measuring, settings.shed_queue_depth),
    )
    return stats, outcomes


async def _sampled(
    load: Coroutine[Any, Any, float], fleet: Fleet
) -> tuple[float, list[engines.Reading]]:
    """Runs ``load`` (returning when it started) while the engines' loads are read."""
    stop = asyncio.Event()
    sampler = asyncio.create_task(engines.sample(fleet.engines, stop))
    try:
        started = await load
    finally:
        stop.set()
    return started, await sampler
