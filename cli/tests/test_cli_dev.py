"""`gateway dev` brings the whole stack up, its printed example works, Ctrl-C stops all;
it cannot be fooled into a second stack on the same workdir or ports, it reports a tier
that dies, and the README's keys section works verbatim beside it."""

from __future__ import annotations

import json
import os
import queue
import re
import shlex
import signal
import socket
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import httpx
import openai
import psutil
import pytest

from gateway_cli.ports import free_port, in_use
from gateway_cli.stack import Service, StackError

ROOT = Path(__file__).parents[2]
GATEWAY = [sys.executable, "-m", "gateway_cli.main"]
# Start-up takes seconds on an idle machine; the bounds leave room for a loaded one.
START_SECONDS = 90
pytestmark = pytest.mark.timeout(240)


class DevProcess:
    """``gateway dev`` as a subprocess, its output read as it comes (stderr merged)."""

    def __init__(self, *args: str, cwd: Path) -> None:
        env = {k: v for k, v in os.environ.items() if k != "REDIS_URL"}
        self.proc = subprocess.Popen(
            [*GATEWAY, "dev", *args],
            cwd=cwd,
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
            text=True,
            env=env,
            process_group=0,  # as a shell runs a command: Ctrl-C goes to its whole group
        )
        self.output: list[str] = []
        self._lines: queue.Queue[str | None] = queue.Queue()
        threading.Thread(target=self._read, daemon=True).start()

    def _read(self) -> None:
        assert self.proc.stdout is not None
        for line in self.proc.stdout:
            self._lines.put(line)
        self._lines.put(None)

    def read_until(self, marker: str, timeout: float) -> str:
        """Everything printed until a line containing ``marker`` (within ``timeout``)."""
        deadline = time.monotonic() + timeout
        while (left := deadline - time.monotonic()) > 0:
            try:
                line = self._lines.get(timeout=left)
            except queue.Empty:
                break
            if line is None:
                break
            self.output.append(line)
            if marker in line:
                return "".join(self.output)
        raise AssertionError(f"no {marker!r} from gateway dev in {timeout}s:\n" + self.text)

    @property
    def text(self) -> str:
        return "".join(self.output)

    def stop(self) -> None:
        """Ctrl-C, as a terminal sends it: to the command's process group."""
        if self.proc.poll() is None:
            os.killpg(self.proc.pid, signal.SIGINT)
        self.proc.wait(30)


def _refused(*args: str, cwd: Path) -> str:
    """Runs a ``gateway dev`` that must refuse to start; returns its one line."""
    done = subprocess.run(
        [*GATEWAY, "dev", *args], cwd=cwd, capture_output=True, text=True, timeout=60, check=False
    )
    assert done.returncode == 1, done.stdout + done.stderr
    assert done.stdout == ""
    assert "Traceback" not in done.stderr
    lines = done.stderr.splitlines()
    assert len(lines) == 1, done.stderr
    return lines[0]


def _base_port() -> int:
    """A port P with P, P+1, P+2 and P+10 free: `gateway dev --port P` takes them all."""
    for _ in range(50):
        port = free_port()
        if port + 10 < 65536 and not any(in_use(port + d) for d in (1, 2, 10)):
            return port
    raise AssertionError("no free run of ports")


@pytest.mark.parametrize(
    ("redis", "redis_url"),
    [
        ((), r"redis://127\.0\.0\.1:\d+/0"),
        (("--redis-cluster",), r"redis\+cluster://127\.0\.0\.1:\d+(,127\.0\.0\.1:\d+){2}"),
    ],
    ids=["redis", "redis-cluster"],
)
def test_dev_stack_runs_the_printed_example_and_stops_cleanly(
    tmp_path: Path, redis: tuple[str, ...], redis_url: str
) -> None:
    dev = DevProcess("--workdir", str(tmp_path), "--port", "0", *redis, cwd=tmp_path)
    try:
        banner = dev.read_until("Press Ctrl-C", timeout=START_SECONDS)
        base_url = re.search(r"Gateway running: (\S+)", banner)
        assert base_url
        assert re.search(rf"^Redis: {redis_url}$", banner, re.MULTILINE)
        assert f"Key registry: {tmp_path / 'keys.json'}" in banner
        assert str(tmp_path / "dev-secrets.json") in banner
        # The printed Python example, run as printed.
        example = re.search(r"^  from openai import OpenAI\n(?:  .*\n)+", banner, re.MULTILINE)
        assert example, banner
        code = "\n".join(line[2:] for line in example.group(0).splitlines())
        run = subprocess.run(
            [sys.executable, "-c", code], capture_output=True, text=True, timeout=30, check=False
        )
        assert run.returncode == 0, run.stderr
        assert run.stdout.strip()
        assert "sk-gw-" in banner
    finally:
        dev.stop()
    assert dev.proc.returncode == 0
    # Every tier is gone: nothing answers on the edge port any more.
    try:
        httpx.get(base_url.group(1).removesuffix("/v1") + "/healthz", timeout=1)
        raise AssertionError("edge still answers after Ctrl-C")
    except httpx.ConnectError:
        pass


@dataclass
class RunningDev:
    dev: DevProcess
    cwd: Path
    port: int
    base_url: str
    key: str

    @property
    def workdir(self) -> Path:
        return self.cwd / ".gateway"

    def client(self, key: str) -> openai.OpenAI:
        return openai.OpenAI(base_url=self.base_url, api_key=key, max_retries=0, timeout=30)


@pytest.fixture(scope="module")
def running_dev(tmp_path_factory: pytest.TempPathFactory) -> Iterator[RunningDev]:
    """One dev stack in a directory of its own, on fixed ports, with the default workdir,
    as a user runs it (the last test here kills one of its tiers)."""
    cwd = tmp_path_factory.mktemp("project")
    port = _base_port()
    dev = DevProcess("--port", str(port), cwd=cwd)
    try:
        banner = dev.read_until("Press Ctrl-C", timeout=START_SECONDS)
        key = re.search(r"Development key \(shown once\): (\S+)", banner)
        assert key, banner
        yield RunningDev(dev, cwd, port, f"http://127.0.0.1:{port}/v1", key.group(1))
    finally:
        dev.stop()


def _chat(client: openai.OpenAI) -> str:
    reply = client.chat.completions.create(
        model="sim-chat", messages=[{"role": "user", "content": "Hello"}]
    )
    return reply.choices[0].message.content or ""


def _readme_keys_commands() -> list[list[str]]:
    readme = (ROOT / "README.md").read_text()
    section = readme[readme.index("\n## Keys\n") :]
    block = re.search(r"```sh\n(.*?)```", section, re.DOTALL)
    assert block
    commands = [shlex.split(line, comments=True) for line in block.group(1).splitlines()]
    return [c for c in commands if c]


def test_the_readme_keys_section_works_verbatim_beside_dev(running_dev: RunningDev) -> None:
    outputs: dict[str, str] = {}
    for command in _readme_keys_commands():
        # `uv run gateway ...` with this interpreter; every argument as written.
        assert command[:3] == ["uv", "run", "gateway"], command
        env = {
            k: v
            for k, v in os.environ.items()
            if k not in ("REDIS_URL", "GATEWAY_KEY_PEPPER", "GATEWAY_KEY_REGISTRY_FILE")
        }
        done = subprocess.run(
            [*GATEWAY, *command[3:]],
            cwd=running_dev.cwd,
            env=env,
            capture_output=True,
            text=True,
            timeout=60,
            check=False,
        )
        assert done.returncode == 0, f"{shlex.join(command)}:\n{done.stderr}"
        outputs[command[4]] = done.stdout
        if command[4] == "create":
            key = re.search(r"^(sk-gw-\S+)$", done.stdout, re.MULTILINE)
            assert key, done.stdout
            assert _chat(running_dev.client(key.group(1)))
        if command[4] == "revoke":
            # Written to the dev stack's Redis at once; edge caches a valid key briefly.
            deadline = time.monotonic() + 15
            while True:
                try:
                    running_dev.client(key.group(1)).models.list()
                except openai.AuthenticationError:
                    break
                assert time.monotonic() < deadline, "the revoked key still works"
                time.sleep(0.2)
    assert "my-app" in outputs["list"]
    assert '"rpm":1200' in outputs["update"]
    # Read from the dev stack's Redis, which the command found by itself.
    usage = json.loads(outputs["usage"])
    assert usage["key"]["name"] == "my-app"
    assert usage["day"]["requests"] >= 1


def test_a_second_dev_on_the_same_workdir_and_ports_is_refused_and_the_first_serves_on(
    running_dev: RunningDev, tmp_path: Path
) -> None:
    files = {p: p.read_bytes() for p in running_dev.workdir.glob("*.json")}
    line = _refused("--port", str(running_dev.port), cwd=running_dev.cwd)
    assert "another `gateway dev`" in line
    assert str(running_dev.dev.proc.pid) in line
    assert str(running_dev.workdir) in line
    # It touched nothing of the first: its dev key is not revoked and still works.
    assert {p: p.read_bytes() for p in running_dev.workdir.glob("*.json")} == files
    assert _chat(running_dev.client(running_dev.key))
    # Another workdir, the same ports: refused for the port, by name.
    line = _refused("--port", str(running_dev.port), "--workdir", str(tmp_path), cwd=tmp_path)
    assert line == (
        f"error: port {running_dev.port} (edge) is already in use; stop what holds it, "
        "or pass --port N (0 picks free ports)"
    )
    assert _chat(running_dev.client(running_dev.key))


def test_a_port_taken_by_another_program_is_one_line(tmp_path: Path) -> None:
    with socket.socket() as other_program:
        other_program.bind(("127.0.0.1", 0))
        other_program.listen()
        port = other_program.getsockname()[1]
        line = _refused("--port", str(port), "--workdir", str(tmp_path), cwd=tmp_path)
    assert line.startswith(f"error: port {port} (edge) is already in use")


def test_a_tier_that_stops_during_start_up_is_one_line_with_its_reason(tmp_path: Path) -> None:
    service = Service("edge", "no_such_tier_module", dict(os.environ), free_port(), tmp_path)
    service.start()
    with pytest.raises(StackError) as failed:
        service.wait_ready(timeout=START_SECONDS)
    message = str(failed.value)
    assert "\n" not in message
    assert message.startswith("edge exited (1): ")
    assert "No module named no_such_tier_module" in message
    assert str(service.log_path) in message


def test_a_tier_killed_under_dev_is_reported_within_5_seconds(running_dev: RunningDev) -> None:
    """Last in this module: the dev stack ends here."""
    dev = running_dev.dev
    edge = next(
        child
        for child in psutil.Process(dev.proc.pid).children()
        if child.cmdline()[-2:] == ["-m", "edge"]
    )
    edge.kill()  # a child of the dev process this test started
    report = dev.read_until("was killed", timeout=5).splitlines()[-1]
    assert report.startswith("error: edge was killed by SIGKILL")
    assert "stopping the stack" in report
    dev.read_until("stopping...", timeout=5)
    assert dev.proc.wait(30) == 1
    # The rest of the stack went with it.
    with pytest.raises(httpx.ConnectError):
        httpx.get(f"http://127.0.0.1:{running_dev.port + 1}/healthz", timeout=1)
