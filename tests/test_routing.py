"""The router under provider faults, through all tiers, with the official OpenAI SDK.

Two simulator processes stand in for two vLLM deployments; their fault injection makes
one fail with 503s, stall before the first token, cut streams, refuse requests (400) or
go away entirely. Every wait is on a condition with a bounded deadline.
"""

from __future__ import annotations

import math
import threading
import time
from collections import Counter
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import httpx
import openai
import orjson
import pytest

from tests.support.routing import (
    CONSECUTIVE_FAILURES,
    COOLDOWN_SECONDS,
    FIRST_TOKEN_SECONDS,
    HUNG_FIRST_TOKEN_SECONDS,
    MODEL_A,
    MODEL_B,
    MODEL_C,
    RoutingStack,
    catalog_text,
    sha256,
    sim_stats,
)
from tests.support.waiting import wait_until


@pytest.fixture(autouse=True)
def _reset_simulators(routing: RoutingStack) -> Iterator[None]:
    yield
    for admin in (routing.a, routing.b):
        admin.post("/admin/reset").raise_for_status()


def requests_to(admin: httpx.Client) -> int:
    return sim_stats(admin)["requests"]


# -- failover and the circuit breaker -----------------------------------------------------


def test_failing_deployment_breaker_opens_and_traffic_returns(routing: RoutingStack) -> None:
    routing.b.put("/admin/config", json={"error_rate": 1.0, "error_status": 503})
    started = time.monotonic()
    served = []
    for i in range(24):
        if i % 2:
            served.append(routing.chat("fo-chat"))
        else:
            stream = routing.client.chat.completions.create(
                model="fo-chat",
                messages=[{"role": "user", "content": "hi"}],
                max_tokens=3,
                stream=True,
            )
            served.append(next(iter(stream)).model)
            for _ in stream:
                pass
    elapsed = time.monotonic() - started
    # Every client request succeeded, on the healthy deployment.
    assert served == [MODEL_A] * 24
    b = routing.deployment("fo-b")
    assert b["breaker"]["opened"] >= 1
    assert b["breaker"]["state"] != "closed"
    # While open, b only got its half-open probes (at most one per cooldown).
    probes = math.ceil(elapsed / COOLDOWN_SECONDS) + 1
    assert sim_stats(routing.b)["errors_injected"] <= CONSECUTIVE_FAILURES + probes

    routing.b.post("/admin/reset").raise_for_status()  # b recovers
    wait_until(
        lambda: routing.chat("fo-chat") == MODEL_B,
        timeout=COOLDOWN_SECONDS + 5,
        interval=0.05,
        what="traffic back on the recovered deployment",
    )
    assert routing.deployment("fo-b")["breaker"]["state"] == "closed"
    split = Counter(routing.chat("fo-chat") for _ in range(10))
    assert split == {MODEL_A: 5, MODEL_B: 5}  # round-robin again


@pytest.mark.parametrize("fault", [{"hang": True}, {"ttft_ms": 30_000}], ids=["hang", "slow"])
def test_no_first_token_fails_over_within_the_budget(
    routing: RoutingStack, fault: dict[str, object]
) -> None:
    routing.a.put("/admin/config", json=fault).raise_for_status()
    started = time.monotonic()
    stream = routing.client.chat.completions.create(
        model="ttft-chat", messages=[{"role": "user", "content": "hi"}], max_tokens=4, stream=True
    )
    chunks = list(stream)
    elapsed = time.monotonic() - started
    assert {c.model for c in chunks} == {MODEL_B}
    assert "".join(c.choices[0].delta.content or "" for c in chunks if c.choices)
    # Failed over once the first-token budget ran out: not before, and not much after.
    assert FIRST_TOKEN_SECONDS <= elapsed < FIRST_TOKEN_SECONDS + 1.5
    # The stalled upstream request was abandoned (connection closed), not left hanging.
    wait_until(lambda: sim_stats(routing.a)["in_flight"] == 0, timeout=5, what="a released")
    assert sim_stats(routing.a)["cancelled"] >= 1


def test_stream_cut_mid_answer_is_an_error_event_and_not_retried(
    routing: RoutingStack,
) -> None:
    for admin in (routing.a, routing.b):
        admin.put("/admin/config", json={"disconnect_after_tokens": 3, "itl_ms": 10})
    before = requests_to(routing.a) + requests_to(routing.b)

    # The SDK sees part of the answer, then an error - not a clean end.
    stream = routing.client.chat.completions.create(
        model="cut-chat", messages=[{"role": "user", "content": "hi"}], max_tokens=10, stream=True
    )
    received: list[str] = []

    def consume() -> None:
        for chunk in stream:
            if chunk.choices and chunk.choices[0].delta.content:
                received.append(chunk.choices[0].delta.content)

    with pytest.raises(openai.APIError, match="interrupted"):
        consume()
    assert len(received) == 3

    # On the wire: an OpenAI-shaped error event, and no [DONE].
    with httpx.stream(
        "POST",
        routing.stack.base_url + "/chat/completions",
        json={
            "model": "cut-chat",
            "messages": [{"role": "user", "content": "hi"}],
            "max_tokens": 10,
            "stream": True,
        },
        headers={"authorization": f"Bearer {routing.api_key}"},
        timeout=10,
    ) as response:
        assert response.status_code == 200
        lines = [line for line in response.iter_lines() if line.startswith("data: ")]
    assert "data: [DONE]" not in lines
    assert '"code":"stream_interrupted"' in lines[-1]
    assert '"type":"server_error"' in lines[-1]

    # Two requests, two upstream calls: nothing was retried.
    assert requests_to(routing.a) + requests_to(routing.b) - before == 2


def test_provider_400_reaches_the_client_with_its_message_once(routing: RoutingStack) -> None:
    for admin in (routing.a, routing.b):
        admin.put("/admin/config", json={"error_rate": 1.0, "error_status": 400})
    before = requests_to(routing.a) + requests_to(routing.b)
    for stream in (False, True):
        with pytest.raises(openai.BadRequestError) as caught:
            routing.client.chat.completions.create(
                model="bad-chat", messages=[{"role": "user", "content": "hi"}], stream=stream
            )
        assert caught.value.status_code == 400
        assert "the simulator answered 400 on purpose" in caught.value.message
    assert requests_to(routing.a) + requests_to(routing.b) - before == 2


# -- balancing ------------------------------------------------------------------------------


def test_weighted_routing_splits_traffic_within_tolerance(routing: RoutingStack) -> None:
    n = 400
    with ThreadPoolExecutor(8) as pool:
        served = Counter(pool.map(lambda _: routing.chat("weighted-chat"), range(n)))
    # Weights 3:1, weighted random: the share of a is 0.75 +/- 0.08 (3.7 standard
    # deviations at n=400, so a correct router fails this about once in 5,000 runs).
    assert abs(served[MODEL_A] / n - 0.75) < 0.08, served


def test_round_robin_splits_traffic_exactly(routing: RoutingStack) -> None:
    with ThreadPoolExecutor(8) as pool:
        served = Counter(pool.map(lambda _: routing.chat("rr-chat"), range(200)))
    assert served == {MODEL_A: 150, MODEL_B: 50}


def test_least_in_flight_sends_new_work_away_from_long_streams(routing: RoutingStack) -> None:
    # a's streams are long (20 s); b's are over at once.
    routing.a.put("/admin/config", json={"itl_ms": 200, "output_tokens": 100})
    held: list[openai.Stream[object]] = []

    def open_until_a_holds_one() -> bool:
        stream = routing.client.chat.completions.create(
            model="lif-chat", messages=[{"role": "user", "content": "long"}], stream=True
        )
        first = next(iter(stream))
        if first.model == MODEL_A:
            held.append(stream)  # type: ignore[arg-type]
            return True
        for _ in stream:  # b: finish it
            pass
        return False

    try:
        wait_until(open_until_a_holds_one, timeout=10, interval=0, what="a long stream on a")
        assert routing.deployment("lif-a")["in_flight"] == 1
        # a holds a long stream, b holds nothing: every new request goes to b.
        served = [routing.chat("lif-chat") for _ in range(20)]
        assert served == [MODEL_B] * 20
    finally:
        for stream in held:
            stream.close()
    wait_until(lambda: sim_stats(routing.a)["in_flight"] == 0, timeout=5, what="a released")


def test_a_hung_replica_costs_whole_answers_one_first_token_timeout(
    routing: RoutingStack,
) -> None:
    # Three replicas, cold breakers: one answers 503, one accepts and hangs, one is fine.
    # Whole answers are read as streams, so the hung one costs a request its first-token
    # budget (then it fails over), not the deployment's 30 s total.
    routing.a.put("/admin/config", json={"error_rate": 1.0, "error_status": 503})
    routing.b.put("/admin/config", json={"hang": True})
    margin = 2.0  # the other attempts, and 30 requests at once on a loaded 2-core machine

    def one(_: int) -> tuple[float, str]:
        started = time.monotonic()
        reply = routing.client.chat.completions.create(
            model="hung-chat", messages=[{"role": "user", "content": "hi"}], max_tokens=2
        )
        return time.monotonic() - started, reply.model

    with ThreadPoolExecutor(30) as pool:
        answers = list(pool.map(one, range(30)))
    assert {model for _, model in answers} == {MODEL_C}
    assert max(seconds for seconds, _ in answers) < HUNG_FIRST_TOKEN_SECONDS + margin
    assert routing.deployment("hung-b")["breaker"]["state"] == "open"


# -- catalog reload ---------------------------------------------------------------------------


def test_catalog_reload_under_load(routing: RoutingStack) -> None:
    a_url, b_url, c_url = routing.urls
    original = routing.catalog_path.read_text()
    stop = threading.Event()
    errors: list[BaseException] = []
    served: list[tuple[float, str]] = []

    def load() -> None:
        i = 0
        while not stop.is_set():
            i += 1
            started = time.monotonic()  # when the request left: it meets the catalog in force
            try:
                if i % 3:
                    served.append((started, routing.chat("reload-chat")))
                else:
                    stream = routing.client.chat.completions.create(
                        model="reload-chat",
                        messages=[{"role": "user", "content": "x"}],
                        max_tokens=3,
                        stream=True,
                    )
                    models = {c.model for c in stream}
                    served.append((started, models.pop()))
            except BaseException as exc:
                errors.append(exc)

    def serving(sha: str) -> bool:
        return bool(routing.status()["catalog"]["sha256"] == sha)

    workers = [threading.Thread(target=load) for _ in range(4)]
    for worker in workers:
        worker.start()
    try:
        wait_until(lambda: len(served) > 20, timeout=10, what="load running")
        # 1. Add b to the alias.
        both = catalog_text(
            a_url,
            b_url,
            c_url,
            reload_chat=(
                f"      - {{name: rl-a, provider: vllm, base_url: '{a_url}', model: {MODEL_A}}}\n"
                f"      - {{name: rl-b, provider: vllm, base_url: '{b_url}', model: {MODEL_B}}}\n"
            ),
        )
        routing.write_catalog(both)
        wait_until(lambda: serving(sha256(both)), timeout=5, what="catalog with b in force")
        wait_until(lambda: any(m == MODEL_B for _, m in served[-20:]), timeout=5, what="b used")
        # 2. Take a out.
        only_b = catalog_text(
            a_url,
            b_url,
            c_url,
            reload_chat=(
                f"      - {{name: rl-b, provider: vllm, base_url: '{b_url}', model: {MODEL_B}}}\n"
            ),
        )
        routing.write_catalog(only_b)
        wait_until(lambda: serving(sha256(only_b)), timeout=5, what="catalog without a")
        swapped = time.monotonic()
        wait_until(lambda: len([t for t, _ in served if t > swapped]) > 20, timeout=10)
        # Every request sent once the new catalog was in force went to b.
        assert {m for t, m in served if t > swapped} == {MODEL_B}
        # 3. An invalid catalog is refused; the running one keeps serving.
        routing.write_catalog(only_b.replace("provider: vllm", "provider: nope", 1))
        wait_until(
            lambda: "unknown provider 'nope'" in routing.router_log(),
            timeout=5,
            what="the refusal logged",
        )
        refusal = next(
            line for line in routing.router_log().splitlines() if "unknown provider 'nope'" in line
        )
        # One line, at error level (the tiers log JSON lines; plain text before that).
        level = orjson.loads(refusal)["level"] if refusal.startswith("{") else refusal
        assert "error" in level.lower()
        assert "catalog reload refused, the previous catalog stays in force" in refusal
        count = len(served)
        wait_until(lambda: len(served) > count + 20, timeout=10, what="still serving")
        assert serving(sha256(only_b))
    finally:
        stop.set()
        for worker in workers:
            worker.join(timeout=30)
        routing.write_catalog(original)
        wait_until(lambda: serving(sha256(original)), timeout=5, what="original catalog back")
    assert errors == []
    assert len(served) > 100


# -- health checks -------------------------------------------------------------------------------


def test_unreachable_deployment_is_detected_and_routed_around(routing: RoutingStack) -> None:
    sim_b = routing.stack.services["sim-b"]
    sim_b.stop()
    try:
        # Refused connections fail over: every request succeeds.
        assert {routing.chat("health-chat") for _ in range(10)} == {MODEL_A}
        wait_until(
            lambda: routing.deployment("hc-b")["health"] == "unhealthy",
            timeout=5,
            what="health checks to mark b unhealthy",
        )
        assert routing.deployment("hc-b")["breaker"]["state"] != "closed"
    finally:
        sim_b.start()
        sim_b.wait_ready(20)
    wait_until(
        lambda: routing.deployment("hc-b")["health"] == "healthy",
        timeout=5,
        what="b healthy again",
    )
    wait_until(
        lambda: routing.chat("health-chat") == MODEL_B,
        timeout=COOLDOWN_SECONDS + 5,
        what="traffic back on b",
    )


def test_status_page_shows_no_secrets_or_urls(routing: RoutingStack) -> None:
    text = httpx.get(routing.stack.services["router"].url + "/status").text
    assert "127.0.0.1" not in text
    assert Path(routing.catalog_path).name in text  # the catalog file, by path
