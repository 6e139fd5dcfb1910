"""The CLI clients the system tests drive (Codex CLI, Claude Code), installed from the
npm registry at the versions ``tests/clients/package-lock.json`` pins, once per lock.

Without npm the tests that need them skip on a laptop; under CI (``CI=true``) a missing
client is a failure, never a skip.
"""

from __future__ import annotations

import fcntl
import hashlib
import os
import shutil
import subprocess
from pathlib import Path

import pytest

CLIENTS = Path(__file__).resolve().parents[1] / "clients"
_STAMP = CLIENTS / "node_modules" / ".installed-lock"


def _missing(what: str) -> None:
    if os.environ.get("CI") == "true":
        pytest.fail(f"{what} (CI installs the test clients: tests/clients/package.json)")
    pytest.skip(what)


def client_bin(name: str) -> Path:
    """The installed client's executable (``codex``, ``claude``)."""
    lock = hashlib.sha256((CLIENTS / "package-lock.json").read_bytes()).hexdigest()
    binary = CLIENTS / "node_modules" / ".bin" / name
    # pytest-xdist's workers may ask at once: one installs, the other waits and finds it done.
    with (CLIENTS / ".install.lock").open("w") as guard:
        fcntl.flock(guard, fcntl.LOCK_EX)
        if not binary.exists() or not _STAMP.exists() or _STAMP.read_text() != lock:
            _install(lock)
    if not binary.exists():
        _missing(f"{name} did not install")
    return binary


def _install(lock: str) -> None:
    """npm ci at the lock's versions, then the one install script needed."""
    npm = shutil.which("npm")
    if npm is None:
        _missing("npm is not installed")
        raise AssertionError  # not reached: skip or fail raised
    subprocess.run(
        [npm, "ci", "--ignore-scripts", "--no-audit", "--no-fund"],
        cwd=CLIENTS,
        check=True,
        capture_output=True,
        timeout=900,
    )
    # Of the packages' install scripts only Claude Code's is needed (it puts its
    # native binary in place), and only it is run.
    subprocess.run(
        [shutil.which("node") or "node", "node_modules/@anthropic-ai/claude-code/install.cjs"],
        cwd=CLIENTS,
        check=True,
        capture_output=True,
        timeout=300,
    )
    _STAMP.write_text(lock)
