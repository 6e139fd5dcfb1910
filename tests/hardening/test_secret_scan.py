"""No secret is committed: detect-secrets over every tracked file finds nothing.

Test placeholders that look like secrets carry detect-secrets' own
``# pragma: allowlist secret`` on their line, so each exception is explicit.
"""

from __future__ import annotations

import json
import secrets
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]


def _scan(*paths: str, cwd: Path) -> dict[str, list[dict[str, object]]]:
    done = subprocess.run(
        [sys.executable, "-m", "detect_secrets", "scan", *paths],
        cwd=cwd,
        capture_output=True,
        text=True,
        timeout=120,
        check=True,
    )
    results: dict[str, list[dict[str, object]]] = json.loads(done.stdout)["results"]
    return results


def test_no_secrets_in_tracked_files() -> None:
    if shutil.which("git") is None or not (ROOT / ".git").exists():
        pytest.skip("not a git checkout")
    tracked = subprocess.run(
        ["git", "ls-files"], cwd=ROOT, capture_output=True, text=True, check=True
    ).stdout.split()
    # schemas/ holds upstream files copied unchanged (checksums: schemas/README.md), none of
    # ours: OpenAI's OpenAPI description is full of example keys and tokens, and 3 MB of
    # it would take the scan from seconds to most of a minute.
    ours = [path for path in tracked if not path.startswith("schemas/")]
    findings = _scan(*ours, cwd=ROOT)
    assert findings == {}, {f: [i["type"] for i in items] for f, items in findings.items()}


def test_the_scanner_finds_a_planted_secret(tmp_path: Path) -> None:
    planted = tmp_path / "settings.py"
    # Made at run time, so this file holds no secret-looking literal itself.
    name, value = "OPENAI_API_KEY", "sk-proj-" + secrets.token_urlsafe(30)
    planted.write_text(f"{name} = {value!r}\n")
    assert _scan(str(planted), cwd=tmp_path)
