"""CPU and memory of the processes we started, and how busy each core was.

A :class:`Meter` brackets one measured run: CPU seconds each process used between
``start`` and ``stop``, its RSS at the end, and each core's busy share (anything else
running on the machine shows there). :class:`RssRecorder` samples RSS over a soak.
"""

from __future__ import annotations

import threading
import time
from dataclasses import dataclass, field
from typing import Any

import psutil

MB = 1024 * 1024


def _cpu_seconds(proc: psutil.Process) -> float:
    times = proc.cpu_times()
    return float(times.user + times.system)


def _busy(times: Any) -> tuple[float, float]:
    total = float(sum(times))
    idle = float(times.idle + getattr(times, "iowait", 0.0))
    return total - idle, total


@dataclass
class Window:
    """One measured run: ``cpu`` seconds and ``rss`` MB per process, core busy %."""

    seconds: float
    cpu: dict[str, float]
    rss: dict[str, float]
    core_busy: dict[int, float]
    extra_cpu: dict[str, float] = field(default_factory=dict)

    def cpu_percent(self, name: str) -> float:
        """Share of one core the process used, in %."""
        used = self.cpu.get(name, self.extra_cpu.get(name, 0.0))
        return 100.0 * used / self.seconds if self.seconds > 0 else 0.0


class Meter:
    def __init__(self, pids: dict[str, int]) -> None:
        self._procs = {name: psutil.Process(pid) for name, pid in pids.items()}
        self._cpu0: dict[str, float] = {}
        self._cores0: list[tuple[float, float]] = []
        self._t0 = 0.0

    def start(self) -> None:
        self._cpu0 = {name: _cpu_seconds(p) for name, p in self._procs.items()}
        self._cores0 = [_busy(t) for t in psutil.cpu_times(percpu=True)]
        self._t0 = time.monotonic()

    def stop(self) -> Window:
        seconds = time.monotonic() - self._t0
        cpu = {name: _cpu_seconds(p) - self._cpu0[name] for name, p in self._procs.items()}
        rss = {name: p.memory_info().rss / MB for name, p in self._procs.items()}
        busy = {}
        for core, (now, before) in enumerate(
            zip([_busy(t) for t in psutil.cpu_times(percpu=True)], self._cores0, strict=True)
        ):
            spent = now[1] - before[1]
            busy[core] = 100.0 * (now[0] - before[0]) / spent if spent > 0 else 0.0
        return Window(seconds, cpu, rss, busy)


def rss_mb(pids: dict[str, int]) -> dict[str, float]:
    return {name: psutil.Process(pid).memory_info().rss / MB for name, pid in pids.items()}


@dataclass
class RssSample:
    t: float  # seconds since the recorder started
    rss: dict[str, float]


class RssRecorder:
    """Samples the RSS of each process every ``interval`` seconds in a thread."""

    def __init__(self, pids: dict[str, int], interval: float) -> None:
        self._pids = pids
        self._interval = interval
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, name="rss-recorder", daemon=True)
        self.samples: list[RssSample] = []

    def _run(self) -> None:
        started = time.monotonic()
        while True:
            self.samples.append(RssSample(time.monotonic() - started, rss_mb(self._pids)))
            if self._stop.wait(self._interval):
                break
        now = time.monotonic() - started
        if now - self.samples[-1].t > self._interval / 2:  # the state at the very end
            self.samples.append(RssSample(now, rss_mb(self._pids)))

    def __enter__(self) -> RssRecorder:
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._stop.set()
        self._thread.join()
