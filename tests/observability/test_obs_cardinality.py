"""Labels are bounded: scanners, random model names and random keys add no series."""

from __future__ import annotations

import asyncio
import random
import secrets
import string

import httpx
from prometheus_client.parser import text_string_to_metric_families

from tests.observability.conftest import TIERS, ObservedStack

REQUESTS = 1000
METHODS = ("GET", "POST", "PUT", "DELETE", "PATCH", "PROPFIND", "HEAD")


def _series(observed: ObservedStack) -> set[tuple[str, str, tuple[tuple[str, str], ...]]]:
    found = set()
    for tier in TIERS:
        for family in text_string_to_metric_families(observed.metrics(tier)):
            for sample in family.samples:
                found.add((tier, sample.name, tuple(sorted(sample.labels.items()))))
    return found


def _junk(n: int = 12) -> str:
    return "".join(random.choices(string.ascii_letters + string.digits + "-_.~%", k=n))


async def _scan(observed: ObservedStack, count: int) -> None:
    """Unknown paths and methods, unknown keys, unknown models, odd model ids."""
    base = observed.stack.services["edge"].url
    key = observed.keys["plain"]
    limit = asyncio.Semaphore(16)

    async def one(client: httpx.AsyncClient, i: int) -> None:
        kind = i % 4
        async with limit:
            if kind == 0:
                path = "/" + "/".join(
                    _junk(random.randint(1, 20)) for _ in range(random.randint(1, 4))
                )
                await client.request(random.choice(METHODS), path)
            elif kind == 1:
                bogus = "sk-gw-" + secrets.token_urlsafe(32)
                body = {"model": "sim-chat", "messages": [{"role": "user", "content": "x"}]}
                await client.post(
                    "/v1/chat/completions", json=body, headers={"authorization": f"Bearer {bogus}"}
                )
            elif kind == 2:
                body = {"model": _junk(), "messages": [{"role": "user", "content": "x"}]}
                await client.post(
                    "/v1/chat/completions", json=body, headers={"authorization": f"Bearer {key}"}
                )
            else:
                await client.get(
                    f"/v1/models/{_junk()}", headers={"authorization": f"Bearer {key}"}
                )

    async with httpx.AsyncClient(base_url=base, timeout=30) as client:
        await asyncio.gather(*(one(client, i) for i in range(count)))


def test_random_paths_models_and_keys_add_no_series(observed: ObservedStack) -> None:
    # Each kind of junk a few times, so that the series it legitimately maps to exist
    # ("unmatched", "other", 401, 404, for every method).
    asyncio.run(_scan(observed, 4 * len(METHODS) * 3))
    for method in METHODS:  # every method at least once, whatever the random draws were
        httpx.request(method, observed.stack.services["edge"].url + "/" + _junk(), timeout=30)
    _series(observed)  # the first scrape of /metrics creates its own series
    before = _series(observed)
    asyncio.run(_scan(observed, REQUESTS))
    after = _series(observed)
    assert after - before == set(), sorted(after - before)[:20]
    # Nothing a client sent became a label value.
    labels = {value for _, _, pairs in after for _, value in pairs}
    assert not any(value.startswith("sk-gw-") for value in labels)
