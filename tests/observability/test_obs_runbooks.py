"""Every alert's runbook says what its condition does to clients; this proves it.

For each alert of the rules, a test induces its condition on the routing stack (three
simulators behind one gateway, tests/support/routing.py: simulator "c" and the aliases
rb-chat, solo-chat and slow-chat are these tests') with the simulator's fault injection,
a stopped process or a paused Redis, and checks that the status and error code clients
get are among those the alert's "Clients get" line in docs/observability.md lists. The
alerts' ``for:`` and windows are minutes to days: their firing is proven by the promtool
cases (tests/observability/rules/), their effect on clients here.
"""

from __future__ import annotations

import os
import re
import signal
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path

import httpx
import pytest
import redis
import yaml

from gateway_shared.plans import Plan
from tests.conftest import create_key
from tests.support.limits import Caller, add_policy_replica
from tests.support.metrics import metric
from tests.support.routing import CONSECUTIVE_FAILURES, RoutingStack
from tests.support.waiting import wait_until

REPO = Path(__file__).resolve().parents[2]
RUNBOOKS = REPO / "docs" / "observability.md"
RULES = REPO / "compose" / "prometheus" / "rules" / "gateway.rules.yml"

SECTION = re.compile(r"^#### (Gateway\w+)\n(.*?)(?=^#{2,4} )", re.MULTILINE | re.DOTALL)
CLIENTS_GET = re.compile(r"^Clients get: (.+)\.$", re.MULTILINE)
ANSWER = re.compile(r"(\d{3})(?: `([a-z_]+)`)?")
MINE = ("rb-a", "rb-c", "solo-c", "slow-c")  # the deployments these tests break
STALL_SECONDS = 0.05  # twice the latency SLO's threshold of gateway overhead

type Answer = tuple[int, str | None]


def clients_get() -> dict[str, set[Answer]]:
    """Alert -> the answers its runbook says clients get."""
    found = {}
    for name, body in SECTION.findall(RUNBOOKS.read_text()):
        (line,) = CLIENTS_GET.findall(body)
        found[name] = {(int(status), code or None) for status, code in ANSWER.findall(line)}
    return found


def alerts() -> set[str]:
    groups = yaml.safe_load(RULES.read_text())["groups"]
    return {rule["alert"] for group in groups for rule in group["rules"] if "alert" in rule}


def _snake(name: str) -> str:
    return re.sub(r"(?<!^)(?=[A-Z])", "_", name).lower()


def assert_runbook(alert: str, seen: set[Answer]) -> None:
    said = clients_get()[alert]
    assert seen, "no client request was made"
    assert seen <= said, f"{alert}: clients got {sorted(seen)}, the runbook says {sorted(said)}"


def ask(
    routing: RoutingStack,
    model: str,
    *,
    key: str | None = None,
    stream: bool = False,
    **body: object,
) -> Answer:
    """One chat completion as a client sends it; its status and error code."""
    request = {"model": model, "messages": [{"role": "user", "content": "hi"}], **body}
    if stream:
        request["stream"] = True
    headers = {"authorization": f"Bearer {key or routing.api_key}"}
    with httpx.stream(
        "POST",
        routing.stack.base_url + "/chat/completions",
        json=request,
        headers=headers,
        timeout=30,
    ) as response:
        response.read()
    if response.status_code == 200:
        return 200, None
    return response.status_code, response.json()["error"]["code"]


@pytest.fixture(scope="module")
def limited(routing: RoutingStack) -> str:
    """A key with a limit: policy admits its requests through Redis (an unlimited key's
    requests do not touch it)."""
    return create_key(routing.stack, "rb-limited", "--rpm", "100000")


@pytest.fixture(scope="module")
def sim_c(routing: RoutingStack) -> Iterator[httpx.Client]:
    with httpx.Client(base_url=routing.stack.services["sim-c"].url, timeout=5) as admin:
        yield admin


@pytest.fixture(autouse=True)
def _recovered(request: pytest.FixtureRequest) -> Iterator[None]:
    """After each test on the stack: no fault, and every deployment it broke healthy and
    closed again."""
    if "routing" not in request.fixturenames:
        yield
        return
    routing: RoutingStack = request.getfixturevalue("routing")
    sim_c: httpx.Client = request.getfixturevalue("sim_c")
    yield
    for admin in (routing.a, routing.b, sim_c):
        admin.post("/admin/reset").raise_for_status()

    def recovered() -> bool:
        for model in ("rb-chat", "solo-chat", "slow-chat"):
            ask(routing, model)  # a success closes a half-open breaker
        states = [routing.deployment(name) for name in MINE]
        return all(s["health"] != "unhealthy" and s["breaker"]["state"] == "closed" for s in states)

    wait_until(recovered, timeout=20, what="the runbook deployments to recover")


@contextmanager
def stopped(service: str, routing: RoutingStack) -> Iterator[None]:
    process = routing.stack.services[service]
    process.stop()
    try:
        yield
    finally:
        process.start()
        process.wait_ready(30)


@contextmanager
def redis_paused(routing: RoutingStack) -> Iterator[None]:
    """Redis stopped (SIGSTOP) for the block: calls to it time out."""
    redis = routing.stack.redis
    if redis is None or redis.process is None:
        pytest.skip("the stack uses an external Redis")
    os.kill(redis.process.pid, signal.SIGSTOP)
    try:
        yield
    finally:
        os.kill(redis.process.pid, signal.SIGCONT)


def unhealthy(routing: RoutingStack, deployment: str) -> Callable[[], bool]:
    return lambda: routing.deployment(deployment)["health"] == "unhealthy"


# -- every alert has its runbook, and its test here ---------------------------------------


def test_every_alert_has_a_runbook_saying_what_clients_get_and_a_test() -> None:
    runbooks = clients_get()
    assert alerts() <= set(runbooks), sorted(alerts() - set(runbooks))
    tested = {name for name in globals() if name.startswith("test_gateway_")}
    assert {f"test_{_snake(alert)}" for alert in alerts()} == tested


# -- availability -------------------------------------------------------------------------


def _providers_failing(routing: RoutingStack, sim_c: httpx.Client) -> set[Answer]:
    """Every deployment of a model answers 503, then 429: what do clients get?"""
    seen = set()
    for status in (503, 429):
        for admin in (routing.a, sim_c):
            admin.put("/admin/config", json={"error_rate": 1.0, "error_status": status})
        seen |= {ask(routing, "rb-chat") for _ in range(2)}
    return seen


def test_gateway_availability_fast_burn(routing: RoutingStack, sim_c: httpx.Client) -> None:
    seen = _providers_failing(routing, sim_c)
    # The provider's 429 reaches the client as the gateway's own code: the SLI counts it.
    assert seen == {(502, "provider_unavailable"), (429, "provider_rate_limited")}
    assert_runbook("GatewayAvailabilityFastBurn", seen)


def test_gateway_availability_slow_burn(routing: RoutingStack, sim_c: httpx.Client) -> None:
    assert_runbook("GatewayAvailabilitySlowBurn", _providers_failing(routing, sim_c))


# -- latency: what the gateway adds ---------------------------------------------------------


def _in_flight_at_edge(routing: RoutingStack) -> float:
    edge = routing.stack.services["edge"].url
    return metric(edge, "gateway_http_requests_in_flight") - 1  # not this scrape


def _slow_gateway(routing: RoutingStack) -> tuple[Answer, float]:
    """Policy stalls (as a starved CPU would stall it) under a request; the answer and
    the overhead edge measured."""
    policy = routing.stack.services["policy"].process
    assert policy is not None
    ask(routing, "rb-chat")
    result: list[httpx.Response] = []
    headers = {"authorization": f"Bearer {routing.api_key}"}
    body = {"model": "rb-chat", "messages": [{"role": "user", "content": "hi"}]}
    url = routing.stack.base_url + "/chat/completions"
    client = threading.Thread(
        target=lambda: result.append(httpx.post(url, json=body, headers=headers, timeout=30))
    )
    os.kill(policy.pid, signal.SIGSTOP)
    try:
        client.start()
        wait_until(lambda: _in_flight_at_edge(routing) >= 1, timeout=10, what="the request at edge")
        time.sleep(STALL_SECONDS)  # the fault: how long policy is stalled
    finally:
        os.kill(policy.pid, signal.SIGCONT)
    client.join(30)
    (response,) = result
    return (response.status_code, None), float(response.headers["x-gateway-overhead-ms"])


def test_gateway_latency_fast_burn(routing: RoutingStack) -> None:
    answer, overhead_ms = _slow_gateway(routing)
    assert overhead_ms > 25  # the latency SLO's threshold: this request counts against it
    assert_runbook("GatewayLatencyFastBurn", {answer})


def test_gateway_latency_slow_burn(routing: RoutingStack) -> None:
    answer, overhead_ms = _slow_gateway(routing)
    assert overhead_ms > 25
    assert_runbook("GatewayLatencySlowBurn", {answer})


# -- targets -------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def no_policy(routing: RoutingStack) -> set[Answer]:
    """What clients get while no policy replica answers (every one down, or none found)."""
    with stopped("policy", routing):
        return {ask(routing, "rb-chat") for _ in range(2)}


def test_gateway_tier_target_down(no_policy: set[Answer]) -> None:
    assert_runbook("GatewayTierTargetDown", no_policy)


def test_gateway_tier_absent(no_policy: set[Answer]) -> None:
    assert_runbook("GatewayTierAbsent", no_policy)


# -- providers -----------------------------------------------------------------------------


@pytest.fixture(scope="module")
def c_down(routing: RoutingStack) -> dict[str, set[Answer]]:
    """Simulator c stopped until its deployments fail their health checks: what clients
    of a model with another deployment (rb-chat) and without one (solo-chat) get."""
    with stopped("sim-c", routing):
        for name in ("rb-c", "solo-c"):
            wait_until(unhealthy(routing, name), timeout=10, what=f"{name} failing its checks")
        return {
            model: {ask(routing, model) for _ in range(3)} for model in ("rb-chat", "solo-chat")
        }


def test_gateway_provider_down(c_down: dict[str, set[Answer]]) -> None:
    assert_runbook("GatewayProviderDown", c_down["rb-chat"])


def test_gateway_model_unavailable(c_down: dict[str, set[Answer]]) -> None:
    # Panic routing (the default) still tries the unhealthy deployment, which is down.
    assert c_down["solo-chat"] == {(502, "provider_unavailable")}
    assert_runbook("GatewayModelUnavailable", c_down["solo-chat"])


def _failing_c(
    routing: RoutingStack, sim_c: httpx.Client, until: Callable[[], bool]
) -> set[Answer]:
    sim_c.put("/admin/config", json={"error_rate": 1.0, "error_status": 503}).raise_for_status()
    seen: set[Answer] = set()

    def reached() -> bool:
        seen.add(ask(routing, "rb-chat"))
        return until()

    wait_until(reached, timeout=15, interval=0, what="the deployment's condition")
    return seen


def test_gateway_circuit_breaker_open(routing: RoutingStack, sim_c: httpx.Client) -> None:
    seen = _failing_c(
        routing, sim_c, lambda: routing.deployment("rb-c")["breaker"]["state"] == "open"
    )
    seen |= {ask(routing, "rb-chat") for _ in range(2)}
    assert_runbook("GatewayCircuitBreakerOpen", seen)


def test_gateway_circuit_breaker_flapping(routing: RoutingStack, sim_c: httpx.Client) -> None:
    opened = routing.deployment("rb-c")["breaker"]["opened"]
    # Its half-open probes fail too: the breaker opens again after each cooldown.
    seen = _failing_c(
        routing, sim_c, lambda: routing.deployment("rb-c")["breaker"]["opened"] >= opened + 2
    )
    assert_runbook("GatewayCircuitBreakerFlapping", seen)


def test_gateway_deployment_errors(routing: RoutingStack, sim_c: httpx.Client) -> None:
    router = routing.stack.services["router"].url
    calls = {"name": "gateway_provider_request_duration_seconds_count", "deployment": "rb-c"}
    failed = metric(router, **calls, outcome="unavailable")
    seen = _failing_c(
        routing,
        sim_c,
        lambda: metric(router, **calls, outcome="unavailable") >= failed + CONSECUTIVE_FAILURES,
    )
    assert_runbook("GatewayDeploymentErrors", seen)


def test_gateway_deployment_slow(routing: RoutingStack, sim_c: httpx.Client) -> None:
    sim_c.put("/admin/config", json={"itl_ms": 30, "output_tokens": 10}).raise_for_status()
    started = time.monotonic()
    seen = {ask(routing, "solo-chat", stream=True, max_tokens=10)}
    assert time.monotonic() - started >= 0.3  # ten tokens, 30 ms apart
    assert_runbook("GatewayDeploymentSlow", seen)


def test_gateway_deployment_slow_first_token(routing: RoutingStack, sim_c: httpx.Client) -> None:
    # Slow, within the deployment's first-token budget: served late.
    sim_c.put("/admin/config", json={"ttft_ms": 200}).raise_for_status()
    seen = {ask(routing, "slow-chat", stream=True)}
    # Past it, on every attempt: the request fails.
    sim_c.put("/admin/config", json={"ttft_ms": 2000}).raise_for_status()
    late = ask(routing, "slow-chat", stream=True)
    assert seen | {late} == {(200, None), (504, "provider_timeout")}
    assert_runbook("GatewayDeploymentSlowFirstToken", seen | {late})


# -- Redis and policy ----------------------------------------------------------------------


def test_gateway_redis_errors(routing: RoutingStack, limited: str) -> None:
    ask(routing, "rb-chat", key=limited)
    with redis_paused(routing):
        seen = {ask(routing, "rb-chat", key=limited)}
    assert seen <= {(503, "rate_limiter_unavailable"), (503, "key_store_unavailable")}
    assert_runbook("GatewayRedisErrors", seen)


def test_gateway_policy_fail_open(routing: RoutingStack) -> None:
    replica = add_policy_replica(routing.stack, POLICY_REDIS_FAILURE_MODE="open")
    try:
        caller = Caller(routing.stack, Plan(rpm=1000))
        body = {"model": "rb-chat", "messages": [{"role": "user", "content": "hi"}]}
        _, headers = caller.headers(body)
        with redis_paused(routing):
            # As edge calls it: the replica admits the request without its limits.
            response = httpx.post(
                replica.url + "/v1/chat/completions", json=body, headers=headers, timeout=30
            )
    finally:
        replica.stop()
    assert_runbook("GatewayPolicyFailOpen", {(response.status_code, None)})


def test_gateway_usage_lost(routing: RoutingStack, sim_c: httpx.Client) -> None:
    # A replica that keeps no settlement for replay: one that fails is lost at once.
    replica = add_policy_replica(routing.stack, POLICY_SETTLE_QUEUE_SIZE="0")
    for admin in (routing.a, sim_c):  # rb-chat's two deployments: a one-second stream
        admin.put("/admin/config", json={"itl_ms": 50, "output_tokens": 20}).raise_for_status()
    body = {"model": "rb-chat", "messages": [{"role": "user", "content": "hi"}], "stream": True}
    _, headers = Caller(routing.stack, Plan(rpm=1000, daily_tokens=100_000)).headers(body)
    lost = {"name": "gateway_policy_settlements_lost_total", "reason": "queue_full"}
    try:
        with httpx.stream(
            "POST", replica.url + "/v1/chat/completions", json=body, headers=headers, timeout=30
        ) as response:
            lines = response.iter_lines()
            next(lines)  # admitted: Redis goes away before the stream's settlement
            with redis_paused(routing):
                rest = list(lines)
                wait_until(
                    lambda: metric(replica.url, **lost) >= 1,
                    timeout=10,
                    what="the settlement lost",
                )
    finally:
        replica.stop()
    assert response.status_code == 200
    assert "data: [DONE]" in rest  # the client got its whole answer
    assert_runbook("GatewayUsageLost", {(response.status_code, None)})


# -- quotas --------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def quota(routing: RoutingStack, sim_c: httpx.Client) -> tuple[list[Answer], float]:
    """A key with a daily quota of 1000 tokens: a 900-token answer, a 1-token one, then
    one that does not fit; the answers, and the quota used after the first."""
    key = create_key(routing.stack, "rb-quota", "--daily-tokens", "1000")
    admins = (routing.a, sim_c)  # rb-chat's two deployments
    for admin in admins:
        admin.put("/admin/config", json={"output_tokens": 900}).raise_for_status()
    try:
        answers = [ask(routing, "rb-chat", key=key, max_tokens=900)]
        policy = routing.stack.services["policy"].url
        used = metric(policy, "gateway_quota_used_ratio", key_name="rb-quota")
        answers += [ask(routing, "rb-chat", key=key, max_tokens=n) for n in (1, 200)]
    finally:
        for admin in admins:
            admin.post("/admin/reset").raise_for_status()
    return answers, used


def test_gateway_quota_saturation(quota: tuple[list[Answer], float]) -> None:
    answers, used = quota
    assert used >= 0.9  # GatewayQuotaSaturation's condition
    assert_runbook("GatewayQuotaSaturation", set(answers[:2]))


def test_gateway_quota_exhausted(quota: tuple[list[Answer], float]) -> None:
    answers, _ = quota
    assert_runbook("GatewayQuotaExhausted", {answers[2]})


def test_gateway_usage_counters_reset(routing: RoutingStack) -> None:
    # Redis losing its data, as far as the alert can tell: the counters' start marker goes.
    assert routing.stack.redis is not None
    lost_at = time.time()
    redis.Redis.from_url(routing.stack.redis.url).delete("gw:state:since")
    replica = add_policy_replica(routing.stack)
    try:
        started = metric(replica.url, "gateway_usage_counters_start_timestamp_seconds")
        assert started >= int(lost_at)  # what the alert compares with the period's start
    finally:
        replica.stop()
    seen = {ask(routing, "rb-chat")}
    assert_runbook("GatewayUsageCountersReset", seen)
