"""Which cores run what: the system under test on its own cores, load elsewhere.

The system under test (the three tiers and Redis, or the floor hops) shares its cores
with nothing we start; k6 and the simulator share the others. Pinning sets the affinity
of every thread of a process (``/proc/PID/task``): threads started later inherit it.
"""

from __future__ import annotations

import os
import shutil
from dataclasses import dataclass
from pathlib import Path


def parse_cores(text: str) -> frozenset[int]:
    """``"0"``, ``"0,2"``, ``"0-3"`` -> a set of core numbers."""
    cores: set[int] = set()
    for raw in text.split(","):
        part = raw.strip()
        if not part:
            continue
        if "-" in part:
            low, high = part.split("-", 1)
            cores.update(range(int(low), int(high) + 1))
        else:
            cores.add(int(part))
    return frozenset(cores)


def format_cores(cores: frozenset[int] | None) -> str:
    return ",".join(str(c) for c in sorted(cores)) if cores else "any"


@dataclass(frozen=True)
class Layout:
    """``sut``: the system under test; ``load``: k6 and the simulator. None: not pinned."""

    sut: frozenset[int] | None
    load: frozenset[int] | None

    @property
    def pinned(self) -> bool:
        return self.sut is not None

    def describe(self) -> str:
        if not self.pinned:
            return "not pinned (a single core is available): every process shares it"
        return (
            f"system under test (tiers + Redis, or the floor hops) on core(s) "
            f"{format_cores(self.sut)}; k6, the simulator and the benchmark itself on "
            f"core(s) {format_cores(self.load)}"
        )


def choose_layout(sut: str | None = None) -> Layout:
    available = frozenset(os.sched_getaffinity(0))
    if len(available) < 2:
        return Layout(None, None)
    chosen = parse_cores(sut) if sut else frozenset({min(available)})
    if not chosen <= available or chosen == available:
        raise ValueError(
            f"--sut-cores {format_cores(chosen)} must be a proper subset of the available "
            f"cores {format_cores(available)}"
        )
    return Layout(chosen, available - chosen)


def pin(pid: int, cores: frozenset[int] | None) -> None:
    """Pin every thread of ``pid`` (threads it starts later inherit the affinity)."""
    if cores is None:
        return
    tasks = Path(f"/proc/{pid}/task")
    tids = [int(t.name) for t in tasks.iterdir()] if tasks.exists() else [pid]
    for tid in tids:
        try:
            os.sched_setaffinity(tid, cores)
        except ProcessLookupError:
            continue  # a thread that ended meanwhile


def pinned_command(command: list[str], cores: frozenset[int] | None) -> list[str]:
    """Prefix ``command`` with taskset so the process starts pinned (Go starts threads
    before anyone could pin them afterwards); unpinned when taskset is missing."""
    taskset = shutil.which("taskset")
    if cores is None or taskset is None:
        return command
    return [taskset, "-c", format_cores(cores), *command]
