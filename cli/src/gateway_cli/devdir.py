"""What a ``gateway dev`` stack keeps in its workdir, and who holds it.

``dev-secrets.json`` holds the stack's pepper and internal secret (development only),
``keys.json`` its key registry, ``dev.lock`` the running stack: a file that ``gateway
dev`` keeps locked (``flock``) while it runs, holding its PID and URLs. The kernel drops
the lock when the process ends, however it ends, so a stale file never blocks a new
stack and a live one is never mistaken for stale. ``gateway keys`` reads the same files
to manage a dev stack's keys with nothing exported.
"""

from __future__ import annotations

import fcntl
import json
import os
from dataclasses import dataclass
from pathlib import Path
from typing import IO

from gateway_cli.stack import REGISTRY_FILE, StackSecrets

LOCK_FILE = "dev.lock"


def registry_path(workdir: Path) -> Path:
    return workdir / REGISTRY_FILE


def secrets_path(workdir: Path) -> Path:
    return workdir / "dev-secrets.json"


def read_secrets(workdir: Path) -> StackSecrets | None:
    path = secrets_path(workdir)
    return StackSecrets(**json.loads(path.read_text())) if path.exists() else None


def load_or_create_secrets(workdir: Path) -> StackSecrets:
    """The dev stack's secrets, created once: the registry's hashes need the same pepper."""
    found = read_secrets(workdir)
    if found is not None:
        return found
    created = StackSecrets()
    workdir.mkdir(parents=True, exist_ok=True)
    path = secrets_path(workdir)
    path.write_text(json.dumps(created.__dict__))
    path.chmod(0o600)
    return created


@dataclass(frozen=True)
class DevState:
    """A running dev stack, as its lock file tells it."""

    pid: int
    base_url: str = ""
    redis_url: str = ""


class DevStackRunning(Exception):
    def __init__(self, workdir: Path, state: DevState | None) -> None:
        who = f"(PID {state.pid}, {state.base_url or 'starting'})" if state else ""
        super().__init__(
            f"another `gateway dev` {who} is running in {workdir}; stop it, "
            "or give this one its own --workdir"
        )


def _read_state(file: IO[str]) -> DevState | None:
    file.seek(0)
    try:
        return DevState(**json.loads(file.read()))
    except (ValueError, TypeError):
        return None


class DevLock:
    """Held by the ``gateway dev`` process for as long as it runs."""

    def __init__(self, workdir: Path) -> None:
        workdir.mkdir(parents=True, exist_ok=True)
        self._file = (workdir / LOCK_FILE).open("a+")
        try:
            fcntl.flock(self._file, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            state = _read_state(self._file)
            self._file.close()
            raise DevStackRunning(workdir, state) from None
        self.publish(DevState(pid=os.getpid()))

    def publish(self, state: DevState) -> None:
        self._file.seek(0)
        self._file.truncate()
        self._file.write(json.dumps(state.__dict__))
        self._file.flush()
        os.chmod(self._file.name, 0o600)

    def release(self) -> None:
        self._file.seek(0)
        self._file.truncate()
        self._file.close()


def running(workdir: Path) -> DevState | None:
    """The dev stack running in ``workdir``, if one is (its lock is held)."""
    path = workdir / LOCK_FILE
    if not path.exists():
        return None
    with path.open() as file:
        try:
            fcntl.flock(file, fcntl.LOCK_SH | fcntl.LOCK_NB)
        except BlockingIOError:
            return _read_state(file)
        return None
