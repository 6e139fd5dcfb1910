"""``python -m gateway_cli.bench.cprofiled``: run a tier under cProfile, on demand.

For ``gateway bench --profile cprofile`` only; the tiers' own code knows nothing of it.
The tier's module (``BENCH_PROFILE_TIER``: edge, policy, router) runs as ``__main__``;
SIGUSR1 starts profiling the event loop's thread, SIGUSR2 stops and writes the stats to
``BENCH_PROFILE_OUT/<tier>-<n>.pstats`` (n counts the windows from 1).
"""

from __future__ import annotations

import cProfile
import os
import runpy
import signal
from pathlib import Path
from types import FrameType


def main() -> None:
    tier = os.environ["BENCH_PROFILE_TIER"]
    out = Path(os.environ["BENCH_PROFILE_OUT"])
    profiler = cProfile.Profile()
    windows = 0

    def start(_sig: int, _frame: FrameType | None) -> None:
        profiler.enable()

    def stop(_sig: int, _frame: FrameType | None) -> None:
        nonlocal profiler, windows
        profiler.disable()
        windows += 1
        final = out / f"{tier}-{windows}.pstats"
        partial = final.with_suffix(".partial")
        profiler.dump_stats(partial)
        partial.replace(final)  # whoever waits for the file sees it whole
        profiler = cProfile.Profile()

    signal.signal(signal.SIGUSR1, start)
    signal.signal(signal.SIGUSR2, stop)
    runpy.run_module(tier, run_name="__main__", alter_sys=True)


if __name__ == "__main__":
    main()
