"""Helpers for the policy system tests: a stack with a short rate window, replicas of
policy, identities signed as edge would, and a recorder of Redis's admission log."""

from __future__ import annotations

import asyncio
import uuid
from contextlib import suppress

import httpx
import orjson

from edge.validation import Bodies, Limits
from gateway_cli.ports import free_port
from gateway_cli.stack import Service, Stack
from gateway_shared.plans import Plan
from gateway_shared.redis_client import RedisClient
from gateway_shared.wire.identity import Api, Identity, IdentitySigner

WINDOW_SECONDS = 2.0
# For a stack that many callers load on a small shared machine, where Redis answers late,
# not never: policy waits for it longer than its production default before refusing (503).
# A refused or reset connection still fails at once, so outage tests are not slowed.
PATIENT_REDIS = {"POLICY_REDIS_TIMEOUT_SECONDS": "2"}
_BODIES = Bodies(Limits())


def add_policy_replica(stack: Stack, **env: str) -> Service:
    base = stack.services["policy"]
    port = free_port()
    replica = Service(
        f"policy-{port}", "policy", base.env | {"POLICY_PORT": str(port)} | env, port, base.logdir
    )
    replica.start()
    replica.wait_ready(30)
    return replica


class Caller:
    """Calls policy replicas directly, as edge does, for one key and plan."""

    def __init__(self, stack: Stack, plan: Plan, key_id: str | None = None) -> None:
        self.key_id = key_id or "key_" + uuid.uuid4().hex[:12]
        self.plan = plan
        self._signer = IdentitySigner(stack.secrets.internal_secret.encode())

    def headers(self, chat: dict[str, object]) -> tuple[str, dict[str, str]]:
        """A request id and the headers edge would send for this chat completion."""
        rid = "req_" + uuid.uuid4().hex
        _, summary = _BODIES.check(Api.CHAT, orjson.dumps(chat))
        token = self._signer.sign(Identity(self.key_id, "load", self.plan, rid, summary))
        return rid, {"x-gateway-identity": token, "x-request-id": rid}


class AdmissionLog:
    """Polls a sliding-log ZSET often enough (entries live a whole window) to keep every
    admission with the Redis time it was admitted at."""

    def __init__(self, redis: RedisClient, key: str, every: float = 0.1) -> None:
        self.redis = redis
        self.key = key
        self.every = every
        self.entries: dict[str, float] = {}
        self._task: asyncio.Task[None] | None = None

    async def _poll(self) -> None:
        while True:
            await self.snapshot()
            await asyncio.sleep(self.every)

    async def snapshot(self) -> None:
        for member, score in await self.redis.zrange(self.key, 0, -1, withscores=True):
            self.entries[member.decode()] = score

    async def __aenter__(self) -> AdmissionLog:
        self._task = asyncio.create_task(self._poll())
        return self

    async def __aexit__(self, *exc: object) -> None:
        assert self._task is not None
        self._task.cancel()
        with suppress(asyncio.CancelledError):
            await self._task
        await self.snapshot()


def chat(max_tokens: int = 1, stream: bool = False) -> dict[str, object]:
    body: dict[str, object] = {
        "model": "sim-chat",
        "messages": [{"role": "user", "content": "hello"}],
        "max_tokens": max_tokens,
    }
    if stream:
        body["stream"] = True
        body["stream_options"] = {"include_usage": True}
    return body


async def stream_usage(response: httpx.Response) -> tuple[int, int] | None:
    """Read an OpenAI stream to its end; the usage chunk's tokens, if any."""
    usage = None
    async for line in response.aiter_lines():
        if line.startswith("data: {"):
            chunk = orjson.loads(line[6:])
            if chunk.get("usage"):
                usage = (chunk["usage"]["prompt_tokens"], chunk["usage"]["completion_tokens"])
    return usage
