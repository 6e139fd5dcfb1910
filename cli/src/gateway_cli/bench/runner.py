"""One measured run: warm up, then k6 at fixed concurrency while the meter watches."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from gateway_cli.bench.k6run import K6Result, k6_dir, run_k6
from gateway_cli.bench.pinning import Layout
from gateway_cli.bench.results import BRIDGES, Measurement, Soak
from gateway_cli.bench.sampling import Meter, RssRecorder
from gateway_cli.bench.systems import TIERS, Target


@dataclass(frozen=True)
class Runner:
    workdir: Path
    layout: Layout
    duration: float
    warmup: float
    log: Path

    def _env(self, target: Target, mode: str, clients: int, seconds: float) -> dict[str, str]:
        env = {
            "BASE_URL": target.base_url,
            "MODEL": target.model,
            "VUS": str(clients),
            "DURATION": f"{seconds:g}s",
            "STREAM": "true" if mode == "stream" else "false",
            "API": mode if mode in BRIDGES else "chat",
            "SUITE": f"bench-{target.name}-{mode}-{clients}",
        }
        if target.api_key:
            env["API_KEY"] = target.api_key
        return env

    def _k6(self, script: str, env: dict[str, str], label: str, seconds: float) -> K6Result:
        return run_k6(
            k6_dir() / script,
            env,
            self.workdir / "summaries" / f"{label}.json",
            label=label,
            cores=self.layout.load,
            timeout=seconds + 60,
            log=self.log,
        )

    def measure(
        self,
        target: Target,
        mode: str,
        clients: int,
        *,
        round_: int = 1,
        around: tuple[Callable[[], None], Callable[[], None]] | None = None,
    ) -> Measurement:
        """``around``: called just before and just after the measured part (profilers)."""
        label = f"{target.name}-{mode}-c{clients}"
        if self.warmup > 0:
            self._k6(
                "bench.js",
                self._env(target, mode, clients, self.warmup),
                label + "-warmup",
                self.warmup,
            )
        meter = Meter(target.pids)
        if around:
            around[0]()
        meter.start()
        try:
            result = self._k6(
                "bench.js", self._env(target, mode, clients, self.duration), label, self.duration
            )
        finally:
            window = meter.stop()
            if around:
                around[1]()
        window.extra_cpu["k6"] = result.k6_cpu_seconds
        if result.seconds > 0:
            # CPU shares over k6's own test time, not k6's start-up.
            window.seconds = result.seconds
        sut = tuple(name for name in target.pids if name != "simulator")
        return Measurement(target.name, target.title, mode, clients, result, window, sut, round_)

    def soak(self, target: Target, seconds: float, rate: int, stream_share: float) -> Soak:
        env = {
            "BASE_URL": target.base_url,
            "API_KEY": target.api_key,
            "MODEL": target.model,
            "RATE": str(rate),
            "DURATION": f"{seconds:g}s",
            "STREAM_SHARE": str(stream_share),
            "MAX_VUS": str(max(100, rate)),
        }
        tiers = tuple(t for t in (*TIERS, "redis") if t in target.pids)
        interval = max(1.0, seconds / 100)
        with RssRecorder({t: target.pids[t] for t in tiers}, interval) as recorder:
            result = self._k6("soak.js", env, "soak", seconds)
        return Soak(seconds, rate, stream_share, result, recorder.samples, tiers)
