"""Admission's rules, the ticket's settlement however a request ends, the metered
stream, and what policy does when Redis fails - against the session's real Redis."""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import AsyncIterator

import aiohttp
import pytest
from pydantic import SecretStr
from redis.asyncio import Redis
from redis.exceptions import TimeoutError as RedisTimeoutError

from gateway_shared.errors import GatewayError
from gateway_shared.plans import Plan
from gateway_shared.prices import Prices
from gateway_shared.redis_client import connect
from gateway_shared.sse import DONE, data_event
from gateway_shared.wire.admission import Admitted
from gateway_shared.wire.identity import Api, Identity, RequestSummary
from gateway_shared.wire.report import Report, Usage, usage_trailer
from policy.accounting import Ticket, metered_stream
from policy.admission import Admission
from policy.limits.limiter import Decision, Limiter
from policy.settings import FailureMode, PolicySettings
from policy.usage import KeyLayout, read_usage
from tests.support.waiting import eventually

DEFAULT_COMPLETION = 64


def settings(mode: FailureMode = FailureMode.CLOSED) -> PolicySettings:
    return PolicySettings(
        redis_url=SecretStr("redis://unused"),
        internal_secret=SecretStr("x" * 32),
        default_completion_tokens=DEFAULT_COMPLETION,
        redis_failure_mode=mode,
    )


def identity(plan: Plan) -> Identity:
    return Identity("key_" + uuid.uuid4().hex[:12], "team", plan, "req_" + uuid.uuid4().hex)


def summary(max_output: int | None = None, api: Api = Api.CHAT, prompt: int = 10) -> RequestSummary:
    return RequestSummary(api, "sim-chat", False, prompt, max_output)


async def in_flight(redis: Redis, key_id: str) -> int:
    return int(await redis.zcard(KeyLayout(key_id).inflight))


async def day(redis: Redis, key_id: str) -> dict[str, object]:
    return dict((await read_usage(redis, key_id))["day"])


# -- admission ---------------------------------------------------------------------


async def test_a_model_outside_the_plan_is_404_like_a_missing_one(redis: Redis) -> None:
    admission = Admission(Limiter(redis, 60, 60), settings())
    with pytest.raises(GatewayError) as caught:
        await admission.admit(identity(Plan(models=("gpt-*",))), summary())
    assert (caught.value.status, caught.value.code) == (404, "model_not_found")


async def test_the_output_cap_bounds_what_is_asked_and_reserved(redis: Redis) -> None:
    admission = Admission(Limiter(redis, 60, 60), settings())
    capped = identity(Plan(max_tokens=100, daily_tokens=10_000))
    with pytest.raises(GatewayError) as caught:
        await admission.admit(capped, summary(max_output=101))
    assert (caught.value.status, caught.value.code) == (400, "max_tokens_exceeded")
    # Asking for nothing: the plan's cap is reserved, and the router told to send it.
    ticket, _, admitted = await admission.admit(capped, summary())
    assert (ticket.estimate, admitted) == (10 + 100, Admitted(output_cap=100))
    ticket, _, admitted = await admission.admit(capped, summary(max_output=30))
    assert (ticket.estimate, admitted) == (10 + 30, Admitted())
    # No cap: the default is reserved, nothing imposed.
    free = identity(Plan(daily_tokens=10_000))
    ticket, _, admitted = await admission.admit(free, summary())
    assert (ticket.estimate, admitted) == (10 + DEFAULT_COMPLETION, Admitted())
    # Embeddings produce no output tokens.
    ticket, _, admitted = await admission.admit(capped, summary(api=Api.EMBEDDINGS))
    assert (ticket.estimate, admitted) == (10, Admitted())


# -- the ticket --------------------------------------------------------------------


async def test_a_ticket_settles_once_with_the_real_usage(redis: Redis) -> None:
    admission = Admission(Limiter(redis, 60, 60), settings())
    caller = identity(Plan(max_concurrent=2, daily_tokens=10_000))
    charged: list[Usage] = []
    ticket, _, _ = await admission.admit(caller, summary(max_output=50))
    ticket.on_charged = charged.append
    assert await in_flight(redis, caller.key_id) == 1
    assert (await day(redis, caller.key_id))["charged_and_reserved_tokens"] == 60
    await ticket.settle(Usage(7, 3))
    await ticket.settle(Usage(700, 300))  # settled already: nothing more
    await ticket.release()
    assert charged == [Usage(7, 3)]
    assert await in_flight(redis, caller.key_id) == 0
    usage = await day(redis, caller.key_id)
    assert (usage["requests"], usage["charged_and_reserved_tokens"]) == (1, 10)
    assert usage["by_model"] == {
        "sim-chat": {
            "requests": 1,
            "prompt_tokens": 7,
            "completion_tokens": 3,
            "cost_usd": "unknown",  # no prices
            "unpriced_requests": 1,
        }
    }


async def test_a_failed_answer_charges_nothing_and_frees_its_slot(redis: Redis) -> None:
    admission = Admission(Limiter(redis, 60, 60), settings())
    caller = identity(Plan(max_concurrent=1, daily_tokens=10_000))
    ticket, _, _ = await admission.admit(caller, summary(max_output=50))
    await ticket.settle_answer(502, Report("sim-chat", 0.1, Usage(5, 5)))
    usage = await day(redis, caller.key_id)
    assert (usage["requests"], usage["charged_and_reserved_tokens"]) == (0, 0)
    assert await in_flight(redis, caller.key_id) == 0
    ticket, _, _ = await admission.admit(caller, summary())  # the slot is free again
    await ticket.release()


async def test_an_answer_without_usage_is_charged_its_reservation(redis: Redis) -> None:
    admission = Admission(Limiter(redis, 60, 60), settings())
    caller = identity(Plan(daily_tokens=10_000))
    ticket, _, _ = await admission.admit(caller, summary(max_output=50))
    await ticket.settle_answer(200, Report("sim-chat", 0.1, None))
    usage = await day(redis, caller.key_id)
    assert usage["charged_and_reserved_tokens"] == 60
    assert usage["by_model"]["sim-chat"] == {  # type: ignore[index]
        "requests": 1,
        "prompt_tokens": 10,
        "completion_tokens": 50,
        "cost_usd": "unknown",  # no prices
        "unpriced_requests": 1,
    }


# -- the metered stream ------------------------------------------------------------


class FakeBody:
    def __init__(self, chunks: list[bytes | BaseException]) -> None:
        self._chunks = chunks

    async def iter_any(self) -> AsyncIterator[bytes]:
        for chunk in self._chunks:
            if isinstance(chunk, BaseException):
                raise chunk
            yield chunk


class FakeResponse:
    """The part of aiohttp's response the metered stream reads."""

    def __init__(self, chunks: list[bytes | BaseException]) -> None:
        self.content = FakeBody(chunks)
        self.closed = False

    def close(self) -> None:
        self.closed = True


class Router:
    """A router stream the test feeds chunk by chunk; ``asked`` counts the reads."""

    def __init__(self) -> None:
        self._chunks: asyncio.Queue[bytes | None] = asyncio.Queue()
        self.asked = 0
        self.response = FakeResponse([])
        self.response.content = self  # type: ignore[assignment]

    def send(self, chunk: bytes) -> None:
        self._chunks.put_nowait(chunk)

    def end(self) -> None:
        self._chunks.put_nowait(None)

    async def iter_any(self) -> AsyncIterator[bytes]:
        while True:
            self.asked += 1
            chunk = await self._chunks.get()
            if chunk is None:
                return
            yield chunk


async def _drain(response: FakeResponse, ticket: Ticket, api: Api = Api.CHAT) -> bytes:
    return b"".join([c async for c in metered_stream(response, ticket, api)])  # type: ignore[arg-type]


async def _ticket(redis: Redis) -> tuple[Ticket, Identity]:
    caller = identity(Plan(daily_tokens=10_000))
    ticket, _, _ = await Admission(Limiter(redis, 60, 60), settings()).admit(
        caller, summary(max_output=50)
    )
    return ticket, caller


CONTENT = b'data: {"choices":[{"delta":{"content":"a"}}],"usage":null}\n\n'


async def test_the_trailer_is_billed_and_never_reaches_the_client(redis: Redis) -> None:
    ticket, caller = await _ticket(redis)
    events = CONTENT + DONE
    # The trailer split across chunks, as a socket may deliver it.
    trailer = usage_trailer(Usage(11, 2))
    response = FakeResponse([events, trailer[:9], trailer[9:]])
    relayed = await _drain(response, ticket)
    assert relayed == events  # no usage chunk asked for: no cost added anywhere
    assert response.closed
    assert (await day(redis, caller.key_id))["charged_and_reserved_tokens"] == 13


def _usage_chunk(**extra: object) -> bytes:
    usage = {"prompt_tokens": 11, "completion_tokens": 2, "total_tokens": 13, **extra}
    return data_event({"id": "c", "choices": [], "usage": usage})


@pytest.mark.parametrize(
    ("prices", "cost"),
    # 11 tokens in at $2, 2 out at $8 per million: 38,000 nano-USD.
    [(Prices(input=2.0, output=8.0), 38_000), (None, None)],
    ids=["priced", "unpriced"],
)
async def test_the_usage_chunk_carries_the_cost_once_the_trailer_says_it(
    redis: Redis, prices: Prices | None, cost: int | None
) -> None:
    ticket, _ = await _ticket(redis)
    ticket.prices = prices
    router = Router()
    relayed = metered_stream(router.response, ticket, Api.CHAT)  # type: ignore[arg-type]
    router.send(CONTENT)
    assert await anext(relayed) == CONTENT  # content goes on at once
    router.send(_usage_chunk() + DONE)
    sent = asyncio.create_task(anext(relayed))

    async def read_on() -> bool:
        return router.asked == 3

    await eventually(read_on, timeout=5, what="the usage chunk read")
    assert not sent.done()  # held back: the cost is not known yet
    router.send(usage_trailer(Usage(11, 2)))
    usd = None if cost is None else 0.000038  # a JSON number; null when unknown
    assert await sent == _usage_chunk(cost=usd) + DONE
    router.end()
    assert [c async for c in relayed] == []
    assert ticket.cost == cost


async def test_a_stream_cut_before_the_trailer_sends_its_usage_chunk_as_it_came(
    redis: Redis,
) -> None:
    ticket, _ = await _ticket(redis)
    events = CONTENT + _usage_chunk() + DONE
    relayed = await _drain(FakeResponse([events, aiohttp.ClientPayloadError("cut")]), ticket)
    assert relayed.startswith(events)
    assert b'"code":"upstream_unavailable"' in relayed


async def test_a_stream_cut_without_a_trailer_is_charged_an_estimate(redis: Redis) -> None:
    ticket, caller = await _ticket(redis)
    content = b"".join(b'data: {"choices":[{"delta":{"content":"%d"}}]}\n\n' % i for i in range(6))
    relayed = await _drain(FakeResponse([content, aiohttp.ClientPayloadError("cut")]), ticket)
    assert relayed.startswith(content)
    assert b'"code":"upstream_unavailable"' in relayed  # the client sees it fail, not end
    usage = await day(redis, caller.key_id)
    # The prompt estimate, and one token per content event less the role and finish ones.
    assert usage["charged_and_reserved_tokens"] == 10 + 4


# -- Redis failing -----------------------------------------------------------------


@pytest.fixture
async def dead_redis() -> AsyncIterator[Redis]:
    redis = connect("redis://127.0.0.1:1", timeout_seconds=0.2)
    yield redis
    await redis.aclose()


async def test_redis_down_closed_refuses_with_503(dead_redis: Redis) -> None:
    admission = Admission(Limiter(dead_redis, 60, 60), settings(FailureMode.CLOSED))
    with pytest.raises(GatewayError) as caught:
        await admission.admit(identity(Plan(rpm=10)), summary())
    assert (caught.value.status, caught.value.code) == (503, "rate_limiter_unavailable")
    assert caught.value.headers == {"retry-after": "1"}
    # A refused connection ran nothing: no release waits in the ledger for Redis.
    assert admission.ledger.kept == 0


async def test_redis_down_open_admits_unmetered_and_settling_does_not_raise(
    dead_redis: Redis,
) -> None:
    admission = Admission(Limiter(dead_redis, 60, 60), settings(FailureMode.OPEN))
    ticket, decision, _ = await admission.admit(identity(Plan(rpm=10)), summary())
    assert decision.admitted
    assert admission.unmetered == 1
    await ticket.settle(Usage(1, 1))  # logged, not raised: the answer was already served
    assert ticket.settled


class _AnswerLost(Limiter):
    """Admits in Redis, then loses the answer: the client's timeout under load."""

    async def admit(
        self, key_id: str, plan: Plan, request_id: str, estimate: int, cost: int = 0
    ) -> Decision:
        await super().admit(key_id, plan, request_id, estimate, cost)
        raise RedisTimeoutError("Timeout reading from socket")


async def test_an_admission_whose_answer_was_lost_and_refused_holds_no_slot(
    redis: Redis,
) -> None:
    admission = Admission(_AnswerLost(redis, 60, 60), settings(FailureMode.CLOSED))
    caller = identity(Plan(max_concurrent=1, daily_tokens=10_000))
    with pytest.raises(GatewayError) as caught:
        await admission.admit(caller, summary(max_output=20))
    assert (caught.value.status, caught.value.code) == (503, "rate_limiter_unavailable")
    assert await in_flight(redis, caller.key_id) == 0
    assert (await day(redis, caller.key_id))["charged_and_reserved_tokens"] == 0


async def test_an_admission_whose_answer_was_lost_and_admitted_open_settles_exactly(
    redis: Redis,
) -> None:
    admission = Admission(_AnswerLost(redis, 60, 60), settings(FailureMode.OPEN))
    caller = identity(Plan(max_concurrent=1, daily_tokens=10_000))
    ticket, decision, _ = await admission.admit(caller, summary(max_output=20))
    assert decision.admitted
    await ticket.settle(Usage(10, 5))
    assert await in_flight(redis, caller.key_id) == 0
    assert (await day(redis, caller.key_id))["charged_and_reserved_tokens"] == 15
