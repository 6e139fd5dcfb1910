"""Load- and prefix-aware routing over a fleet of engine-model simulators, through all
tiers with real clients: a session's affinity, metrics that stop, a replica that dies,
and the saturation guard shedding by priority.

Three simulators run the engine model (one sequence at a time, slowed down, priority
scheduling on), each serving its own model name so an answer names its replica. The
router reads their /metrics every 0.2 s and trusts a reading for 1 s. Every wait is on a
condition with a bounded deadline.
"""

from __future__ import annotations

import asyncio
import contextlib
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

import httpx
import openai
import pytest

from gateway_cli.stack import Stack
from tests.conftest import create_key
from tests.support.waiting import eventually, wait_until

REPLICAS = ("fleet-a", "fleet-b", "fleet-c")
ENGINE = {
    "SIM_ENGINE": "true",
    "SIM_ENGINE_SLOWDOWN": "5",
    "SIM_ENGINE_MAX_NUM_SEQS": "1",
    "SIM_SCHEDULING_POLICY": "priority",
    "SIM_OUTPUT_TOKENS": "40",
}
SHED_DEPTH = 3
STALE_SECONDS = 1.0


def _catalog(urls: dict[str, str]) -> str:
    timeouts = "timeouts: {connect: 0.5, first_token: 20}"

    def deployment(name: str, replica: str, extra: str = "") -> str:
        return (
            f"      - {{name: {name}, provider: vllm, base_url: '{urls[replica]}',"
            f" model: {replica}, {timeouts}{extra}}}\n"
        )

    return (
        "routing:\n"
        "  retry: {max_attempts: 3, budget_seconds: 20, backoff_initial_seconds: 0.05,"
        " backoff_max_seconds: 0.2}\n"
        "  breaker: {consecutive_failures: 2, cooldown_seconds: 60}\n"
        f"  load: {{scrape_seconds: 0.2, stale_seconds: {STALE_SECONDS}, timeout_seconds: 0.5}}\n"
        "models:\n"
        "  - alias: fleet-chat\n    strategy: load_aware\n    deployments:\n"
        + "".join(deployment(f"lb-{r}", r) for r in REPLICAS)
        + f"  - alias: shed-chat\n    strategy: load_aware\n    shed_queue_depth: {SHED_DEPTH}\n"
        "    deployments:\n"
        + "".join(deployment(f"shed-{r}", r, ", priority_scheduling: true") for r in REPLICAS[:2])
    )


@dataclass
class Fleet:
    stack: Stack
    keys: dict[str, str]

    def service(self, replica: str) -> Any:
        # The stack's own simulator is the first replica: one process fewer to start.
        return self.stack.services["simulator" if replica == REPLICAS[0] else replica]

    def url(self, replica: str) -> str:
        return str(self.service(replica).url)

    def status(self) -> dict[str, Any]:
        response = httpx.get(self.stack.services["router"].url + "/status", timeout=5)
        response.raise_for_status()
        return response.json()["deployments"]  # type: ignore[no-any-return]

    def loads(self, prefix: str) -> dict[str, Any]:
        return {
            n[len(prefix) :]: d["load"] for n, d in self.status().items() if n.startswith(prefix)
        }

    def client(self, priority: str = "normal") -> openai.OpenAI:
        return openai.OpenAI(
            base_url=self.stack.base_url, api_key=self.keys[priority], max_retries=0, timeout=30
        )


@pytest.fixture(scope="module")
def fleet(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Fleet]:
    workdir = tmp_path_factory.mktemp("fleet")
    catalog = workdir / "catalog.yaml"
    stack = Stack(
        workdir,
        catalog_path=catalog,
        extra_env=ENGINE | {"SIM_MODELS": REPLICAS[0]},
        extra_simulators={r: ENGINE | {"SIM_MODELS": r} for r in REPLICAS[1:]},
    )
    fleet = Fleet(stack, {})
    catalog.write_text(_catalog({r: fleet.url(r) + "/v1" for r in REPLICAS}))
    try:
        stack.start()
        for priority in ("low", "normal", "high"):
            fleet.keys[priority] = create_key(stack, f"fleet-{priority}", "--priority", priority)
        wait_until(lambda: all(fleet.loads("lb-").values()), timeout=20, what="first load readings")
        yield fleet
    finally:
        stack.stop()


def _system_prompt() -> str:
    return f"You are assistant {uuid.uuid4()} of a fleet test. " * 60


def _turns(client: openai.OpenAI, system: str, count: int) -> list[Any]:
    messages: list[dict[str, str]] = [{"role": "system", "content": system}]
    answers = []
    for turn in range(count):
        messages.append({"role": "user", "content": f"question {turn}"})
        answer = client.chat.completions.create(
            model="fleet-chat",
            messages=messages,
            max_tokens=4,  # type: ignore[arg-type]
        )
        answers.append(answer)
        messages.append({"role": "assistant", "content": answer.choices[0].message.content or ""})
    return answers


def test_a_session_stays_on_the_replica_that_holds_its_prefix(fleet: Fleet) -> None:
    client = fleet.client()
    for _ in range(3):
        answers = _turns(client, _system_prompt(), 4)
        assert len({a.model for a in answers}) == 1
        # Its replica already holds the system prompt: every later turn is a cache hit.
        for later in answers[1:]:
            assert later.usage is not None
            assert later.usage.prompt_tokens_details is not None
            assert later.usage.prompt_tokens_details.cached_tokens > 0


def test_a_replica_whose_metrics_stop_gets_least_in_flight(fleet: Fleet) -> None:
    silent = REPLICAS[0]
    admin = httpx.Client(base_url=fleet.url(silent), timeout=5)
    admin.put("/admin/config", json={"metrics_down": True}).raise_for_status()
    try:
        wait_until(
            lambda: fleet.loads("lb-")[silent]["age_seconds"] > STALE_SECONDS,
            timeout=10,
            what="the silent replica's reading to go stale",
        )
        # No affinity now: requests of one session spread, the silent replica included
        # (it still answers: stale metrics are not a dead replica).
        served = {a.model for a in _turns(fleet.client(), _system_prompt(), 12)}
        assert len(served) >= 2
    finally:
        admin.put("/admin/config", json={"metrics_down": False}).raise_for_status()
        admin.close()
    wait_until(
        lambda: fleet.loads("lb-")[silent]["age_seconds"] < STALE_SECONDS,
        timeout=10,
        what="fresh readings again",
    )


async def test_shedding_goes_by_priority_and_says_when_to_retry(fleet: Fleet) -> None:
    body = {"messages": [{"role": "user", "content": "fill the queue"}], "max_tokens": 40}

    async def occupy(http: httpx.AsyncClient, replica: str) -> None:
        async with http.stream(
            "POST", f"{fleet.url(replica)}/v1/chat/completions", json=body | {"stream": True}
        ) as response:
            async for _ in response.aiter_bytes():
                pass

    # Queues filled behind the router's back: one running and five waiting per replica,
    # past the low priority's depth (3) but not the normal one's (6).
    async with httpx.AsyncClient(timeout=60) as http:
        fillers = [asyncio.create_task(occupy(http, r)) for r in REPLICAS[:2] for _ in range(6)]
        try:
            await eventually(
                lambda: asyncio.to_thread(
                    lambda: all(
                        (load or {}).get("waiting", 0) >= 5
                        for load in fleet.loads("shed-").values()
                    )
                ),
                timeout=15,
                what="every replica of shed-chat to report its queue",
            )
            edge = fleet.stack.base_url
            ask = {"model": "shed-chat", **body, "max_tokens": 2}
            low = await http.post(
                f"{edge}/chat/completions", json=ask, headers=_bearer(fleet.keys["low"])
            )
            assert low.status_code == 503
            assert low.json()["error"]["code"] == "server_overloaded"
            assert int(low.headers["retry-after"]) >= 1
            messages = await http.post(
                f"{edge}/messages",
                json=ask,
                headers={"x-api-key": fleet.keys["low"], "anthropic-version": "2023-06-01"},
            )
            assert messages.status_code == 529
            assert messages.json()["error"]["type"] == "overloaded_error"
            assert "retry-after" in messages.headers
            # Higher priorities are still admitted (and scheduled first by the engine).
            high = await http.post(
                f"{edge}/chat/completions", json=ask, headers=_bearer(fleet.keys["high"])
            )
            assert high.status_code == 200, high.text
        finally:
            for task in fillers:
                task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await asyncio.gather(*fillers, return_exceptions=True)
    metrics = httpx.get(fleet.stack.services["router"].url + "/metrics", timeout=5).text
    assert 'gateway_router_shed_requests_total{model="shed-chat",priority="low"} 2.0' in metrics
    assert 'gateway_router_shed_requests_total{model="shed-chat",priority="high"} 0.0' in metrics


def _bearer(key: str) -> dict[str, str]:
    return {"authorization": f"Bearer {key}"}


def test_a_replica_that_dies_mid_session_is_routed_around(fleet: Fleet) -> None:
    client = fleet.client()
    system = _system_prompt()
    home = _turns(client, system, 1)[0].model
    service = fleet.service(home)
    service.stop()
    try:
        rest = _turns(client, system, 4)
        assert home not in {a.model for a in rest}
    finally:
        service.start()
        service.wait_ready(20)
