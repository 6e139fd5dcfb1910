"""Rotating the internal secret under load, restarting the tiers one by one: no request
is refused for its identity (docs/security.md gives the two rolls)."""

from __future__ import annotations

import asyncio
import secrets
from collections import Counter
from collections.abc import Iterator

import httpx
import pytest

from gateway_cli.stack import Stack
from gateway_shared.plans import Plan
from gateway_shared.wire.identity import Identity, IdentitySigner
from tests.conftest import create_key
from tests.support.waiting import eventually

CHAT = {"model": "sim-chat", "messages": [{"role": "user", "content": "hi"}], "max_tokens": 2}
WORKERS = 4


@pytest.fixture(scope="module")
def rotating(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Stack]:
    stack = Stack(tmp_path_factory.mktemp("rotation"))
    try:
        stack.start()
        yield stack
    finally:
        stack.stop()


async def _load(base_url: str, key: str, stop: asyncio.Event, statuses: Counter[str]) -> None:
    """Chat completions without pause. A tier restarting answers 503 (edge itself refuses
    the connection), which is retried as any client would: that is the restart, not the
    rotation."""
    headers = {"authorization": f"Bearer {key}"}
    async with httpx.AsyncClient(base_url=base_url, timeout=15) as client:
        while not stop.is_set():
            try:
                response = await client.post("/chat/completions", json=CHAT, headers=headers)
            except httpx.TransportError:
                statuses["edge restarting"] += 1
                await asyncio.sleep(0.05)  # the retry's backoff
                continue
            code = response.json().get("error", {}).get("code") if response.is_error else ""
            statuses[f"{response.status_code} {code}".strip()] += 1
            if response.status_code == 503:
                await asyncio.sleep(0.05)


def _roll(stack: Stack, order: tuple[str, ...], env: dict[str, str]) -> None:
    for tier in order:
        service = stack.services[tier]
        service.env |= env
        service.restart()


async def test_rotating_the_internal_secret_refuses_no_identity(rotating: Stack) -> None:
    key = create_key(rotating, "rotation")
    old, new = rotating.secrets.internal_secret, secrets.token_urlsafe(32)
    statuses: Counter[str] = Counter()
    stop = asyncio.Event()
    workers = [
        asyncio.create_task(_load(rotating.base_url, key, stop, statuses)) for _ in range(WORKERS)
    ]
    try:
        served = [statuses["200"]]
        # 1. Every tier learns the new secret as the previous one: all still sign with the old.
        await asyncio.to_thread(
            _roll, rotating, ("edge", "router", "policy"), {"GATEWAY_INTERNAL_SECRET_PREVIOUS": new}
        )
        served.append(statuses["200"])
        # 2. The new secret becomes current, the old one previous, in another order.
        await asyncio.to_thread(
            _roll,
            rotating,
            ("policy", "edge", "router"),
            {"GATEWAY_INTERNAL_SECRET": new, "GATEWAY_INTERNAL_SECRET_PREVIOUS": old},
        )
        served.append(statuses["200"])

        async def serving() -> bool:
            return statuses["200"] >= served[-1] + 20

        await eventually(serving, timeout=20, what="answers on the new secret")
    finally:
        stop.set()
        await asyncio.gather(*workers)
    assert not [s for s in statuses if s.startswith("401")], statuses
    assert set(statuses) <= {"200", "503 upstream_unavailable", "edge restarting"}, statuses
    assert served[0] < served[1] < served[2]  # answering through each roll

    # 3. Once the previous secret is dropped, identities it signed are refused.
    router = rotating.services["router"]
    assert _vouches(router.url, old)
    assert _vouches(router.url, new)
    router.env.pop("GATEWAY_INTERNAL_SECRET_PREVIOUS")
    router.restart()
    assert not _vouches(router.url, old)
    assert _vouches(router.url, new)


def _vouches(url: str, secret: str) -> bool:
    token = IdentitySigner(secret.encode()).sign(Identity("key_000000000000", "r", Plan(), "req"))
    response = httpx.get(url + "/v1/models", headers={"x-gateway-identity": token}, timeout=5)
    assert response.status_code in (200, 401), response.text
    return response.status_code == 200
