"""A bounded load against the local stack while a fault is injected, and its figures.

Each request is recorded with when it started, how long it took, its status and error
code; the experiment then reports requests sent, succeeded, failed by status, p99 during
the fault and the recovery time (first success after the fault ended).
"""

from __future__ import annotations

import asyncio
import threading
import time
from collections import Counter
from dataclasses import dataclass, field
from typing import Any

import httpx
import orjson

BODY = {"model": "sim-chat", "messages": [{"role": "user", "content": "hi"}], "max_tokens": 4}


@dataclass(frozen=True, slots=True)
class Outcome:
    started: float
    seconds: float
    status: int  # 0: no HTTP answer (connection refused or reset)
    code: str
    tokens: int
    model: str = ""  # the upstream model that answered: which deployment served it


@dataclass
class Experiment:
    name: str
    hypothesis: str
    outcomes: list[Outcome] = field(default_factory=list)
    fault_started: float = 0.0
    fault_ended: float = 0.0

    def during_fault(self) -> list[Outcome]:
        return [o for o in self.outcomes if self.fault_started <= o.started < self.fault_ended]

    def recovery_seconds(self) -> float | None:
        after = [o for o in self.outcomes if o.started >= self.fault_ended and o.status == 200]
        return min(o.started + o.seconds for o in after) - self.fault_ended if after else None

    def summary(self) -> dict[str, Any]:
        during = sorted(o.seconds for o in self.during_fault()) or [0.0]
        recovery = self.recovery_seconds()
        return {
            "experiment": self.name,
            "sent": len(self.outcomes),
            "succeeded": sum(o.status == 200 for o in self.outcomes),
            "failed_by_status": dict(
                sorted(Counter(o.status for o in self.outcomes if o.status != 200).items())
            ),
            "p99_during_fault_s": round(during[min(len(during) - 1, int(0.99 * len(during)))], 3),
            "recovery_s": None if recovery is None else round(recovery, 3),
        }

    def report(self) -> str:
        s = self.summary()
        line = (
            f"{s['experiment']}: sent {s['sent']}, succeeded {s['succeeded']}, "
            f"failed by status {s['failed_by_status']}, p99 during fault "
            f"{s['p99_during_fault_s']} s, recovery {s['recovery_s']} s"
        )
        print(f"\n[chaos] {line}\n[chaos] hypothesis: {self.hypothesis}")
        return line


def _read_stream(text: str) -> tuple[int, str, int, str]:
    """(status, code, tokens, model) of a whole SSE answer; a stream that ends in an error
    event counts as status 502 with that error's code."""
    tokens, model = 0, ""
    for line in text.splitlines():
        if not line.startswith("data: {"):
            continue
        event = orjson.loads(line[6:])
        if "error" in event:
            return 502, str(event["error"].get("code")), 0, model
        model = event.get("model", model)
        if event.get("usage"):
            tokens = event["usage"]["total_tokens"]
    done = text.rstrip().endswith("data: [DONE]")
    return (200, "", tokens, model) if done else (502, "incomplete_stream", 0, model)


class Load:
    """``workers`` clients, each sending one request at a time to ``urls`` in turn."""

    def __init__(
        self,
        experiment: Experiment,
        urls: list[str],
        key: str,
        *,
        workers: int = 4,
        pace: float = 0.01,
        timeout: float = 10.0,
        body: dict[str, Any] | None = None,
    ) -> None:
        self.experiment = experiment
        self.urls = urls
        self.headers = {"authorization": f"Bearer {key}"}
        self.workers = workers
        self.pace = pace
        self.timeout = timeout
        self.body = body or BODY
        self._stop = asyncio.Event()
        self._tasks: list[asyncio.Task[None]] = []

    async def send(self, client: httpx.AsyncClient, url: str) -> None:
        """One request, recorded in the experiment. Streams must ask for usage."""
        started = time.monotonic()
        model = ""
        try:
            response = await client.post(
                url + "/chat/completions", json=self.body, headers=self.headers
            )
            status, code, tokens = response.status_code, "", 0
            if status != 200:
                code = str(response.json()["error"]["code"])
            elif self.body.get("stream"):
                status, code, tokens, model = _read_stream(response.text)
            else:
                payload = response.json()
                tokens, model = payload["usage"]["total_tokens"], payload["model"]
        except httpx.TransportError as exc:
            status, code, tokens = 0, type(exc).__name__, 0
        self.experiment.outcomes.append(
            Outcome(started, time.monotonic() - started, status, code, tokens, model)
        )

    async def _worker(self, n: int) -> None:
        async with httpx.AsyncClient(timeout=self.timeout) as client:
            i = n
            while not self._stop.is_set():
                await self.send(client, self.urls[i % len(self.urls)])
                i += 1
                await asyncio.sleep(self.pace)  # pacing the offered load

    async def __aenter__(self) -> Load:
        self._tasks = [asyncio.create_task(self._worker(n)) for n in range(self.workers)]
        return self

    async def __aexit__(self, *exc: object) -> None:
        self._stop.set()
        await asyncio.gather(*self._tasks)


async def wait_for(predicate: Any, timeout: float, what: str) -> None:
    deadline = time.monotonic() + timeout
    while not predicate():
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out after {timeout}s waiting for {what}")
        await asyncio.sleep(0.05)


class DelayingProxy:
    """A TCP proxy on loopback that holds every chunk, each way, for ``delay`` seconds:
    latency injected on one hop, like a NetworkChaos delay. It runs its own event loop in
    a thread, so it serves whether or not a test is awaiting."""

    def __init__(self, target_port: int, port: int) -> None:
        self.target_port = target_port
        self.port = port
        self.delay = 0.0
        self._loop = asyncio.new_event_loop()
        self._ready = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)

    async def _pipe(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        try:
            while chunk := await reader.read(65536):
                if self.delay:
                    await asyncio.sleep(self.delay)  # the injected latency itself
                writer.write(chunk)
                await writer.drain()
        except ConnectionError:
            pass
        finally:
            writer.close()

    async def _handle(self, client_r: asyncio.StreamReader, client_w: asyncio.StreamWriter) -> None:
        try:
            up_r, up_w = await asyncio.open_connection("127.0.0.1", self.target_port)
        except OSError:
            client_w.close()
            return
        await asyncio.gather(self._pipe(client_r, up_w), self._pipe(up_r, client_w))

    def _run(self) -> None:
        asyncio.set_event_loop(self._loop)
        server = self._loop.run_until_complete(
            asyncio.start_server(self._handle, "127.0.0.1", self.port)
        )
        self._ready.set()
        self._loop.run_forever()
        server.close()
        self._loop.run_until_complete(server.wait_closed())
        self._loop.close()

    def start(self) -> None:
        self._thread.start()
        if not self._ready.wait(5):
            raise RuntimeError("the delaying proxy did not start")

    def stop(self) -> None:
        self._loop.call_soon_threadsafe(self._loop.stop)
        self._thread.join(5)
