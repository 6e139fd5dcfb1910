"""Serving one inference request: auth, fault injection, parsing, then the answer.

Order, as a real server would meet them: the API key (401), an injected error
(``error_rate``), then vLLM's own checks (:mod:`simulator.parsing`): the body and its
``Content-Type``, the fields (400), the model (404), the sampling parameters (400). A
request that gets past all of these is *accepted* (vLLM metrics start) and answered:
hung, streamed, delayed or at once. Refusals are counted as ``rejected``.
"""

from __future__ import annotations

import math
import secrets
import time
from collections.abc import Callable
from typing import Any

import orjson
from starlette.requests import ClientDisconnect, Request
from starlette.responses import Response

from gateway_shared.errors import GatewayError, error_response
from simulator import generation, payloads
from simulator.apis import messages as messages_api
from simulator.apis import responses as responses_api
from simulator.engine.profile import SchedulingPolicy
from simulator.engine.serving import EngineAnswer
from simulator.faults import FaultConfig
from simulator.generation import Answer
from simulator.parsing import EmbeddingJob, GenerationJob, Kind, parse_embedding
from simulator.payloads import MALFORMED_BODY, StreamChunks, StreamEvents
from simulator.responses import DelayedResponse, EventStream, HangResponse, plain_json
from simulator.state import RequestRecord, SimState
from simulator.stats import Outcome
from simulator.validation.body import load_body
from simulator.validation.errors import VLLMError, bad_request

Parser = Callable[[Any, dict[str, bytes]], GenerationJob]
BodyRenderer = Callable[[GenerationJob, str, int, Answer], bytes]
EventsRenderer = Callable[[GenerationJob, str, int, bytes, Answer], StreamEvents]
# How each API renders an answer, whole and streamed (chat and completions: the default).
_CHAT_RENDERERS: tuple[BodyRenderer, EventsRenderer] = (payloads.generation_body, StreamChunks)
RENDERERS: dict[Kind, tuple[BodyRenderer, EventsRenderer]] = {
    Kind.RESPONSES: (responses_api.response_body, responses_api.ResponseEvents),
    Kind.MESSAGES: (messages_api.message_body, messages_api.MessageEvents),
}


def check_api_key(request: Request, sim: SimState) -> None:
    expected = sim.expected_authorization
    if expected is None:
        return
    for name, value in request.scope["headers"]:
        if name == b"authorization" and secrets.compare_digest(value, expected):
            return
    raise GatewayError(
        "Incorrect API key provided. You can find your API key in your simulator settings.",
        status=401,
        code="invalid_api_key",
    )


def injected_error(faults: FaultConfig) -> Response:
    return error_response(
        f"Injected fault: the simulator answered {faults.error_status} on purpose.",
        status=faults.error_status,
        code="rate_limit_exceeded" if faults.error_status == 429 else None,
        headers=faults.retry_after_header(),
    )


def content_type(request: Request) -> str | None:
    for name, value in request.scope["headers"]:
        if name == b"content-type":
            text: str = value.decode("latin-1")
            return text
    return None


async def _admit(request: Request, sim: SimState, faults: FaultConfig) -> Any:
    """The request's parsed body (any JSON value but null: the parser decides what is
    valid), or the :class:`Response` that ends the request here (already counted)."""
    try:
        check_api_key(request, sim)
        if sim.inject_error(faults):
            sim.stats.end(Outcome.INJECTED)
            return injected_error(faults)
        return load_body(await request.body(), content_type(request))
    except (GatewayError, VLLMError) as exc:
        sim.stats.end(Outcome.REJECTED)
        return exc.to_response()
    except ClientDisconnect:
        sim.stats.end(Outcome.CANCELLED)
        return Response(status_code=499)


async def serve_generation(request: Request, sim: SimState, parse: Parser) -> Response:
    sim.stats.start()
    faults = sim.faults
    admitted = await _admit(request, sim, faults)
    if isinstance(admitted, Response):
        return admitted
    try:
        job = parse(admitted, sim.models)
    except VLLMError as exc:
        sim.stats.end(Outcome.REJECTED)
        return exc.to_response()
    if faults.prompt_token_factor != 1.0:
        job = job._replace(prompt_tokens=math.ceil(job.prompt_tokens * faults.prompt_token_factor))

    if job.priority and sim.profile.scheduling_policy is not SchedulingPolicy.PRIORITY:
        sim.stats.end(Outcome.REJECTED)
        message = f"Got priority {job.priority} but Priority scheduling is not enabled."
        return bad_request(message).to_response()
    record = sim.accept(job.model, job.prompt_tokens, engine=sim.engine is not None)
    if faults.hang:
        return HangResponse(record)
    answer = generation.plan(
        faults.output_tokens, job.max_tokens, reasoning=job.reasoning, call=job.call
    )
    tokens = answer.tokens
    rid = payloads.request_id(job.kind)
    render_body, render_events = RENDERERS.get(job.kind, _CHAT_RENDERERS)
    hashes = sim.block_hashes(job.prompt_text, job.prompt_tokens)
    if sim.engine is not None:
        return EngineAnswer(
            record,
            sim.engine,
            job,
            hashes,
            answer,
            rid=rid,
            model_json=sim.models[job.model],
            render_body=render_body,
            render_events=render_events,
        )
    if hashes:
        answer = answer._replace(cached_tokens=sim.instant_cached_tokens(hashes, job.prompt_tokens))

    if job.stream:
        events = render_events(job, rid, int(time.time()), sim.models[job.model], answer)
        return EventStream(
            record,
            events,
            faults,
            choices=job.choices,
            tokens=tokens,
            finish_reason=answer.finish_reason,
            prompt_tokens=job.prompt_tokens,
            include_usage=job.include_usage,
        )

    if faults.malformed_stream:
        body = MALFORMED_BODY
    else:
        body = render_body(job, rid, int(time.time()), answer)
    return _answer(
        record,
        body,
        faults,
        ttft_s=faults.ttft_s,
        rest_s=faults.itl_s * (tokens - 1),
        tokens=tokens * job.choices,
        finish_reason=answer.finish_reason,
    )


Counter = Callable[[Any, dict[str, bytes]], Any]


async def serve_count(request: Request, sim: SimState, count: Counter) -> Response:
    """A request that only counts tokens (``/tokenize``, ``count_tokens``): the key and the
    body checked as for a generation; no fault injection, no generation counters."""
    try:
        check_api_key(request, sim)
        data = load_body(await request.body(), content_type(request))
        return plain_json(orjson.dumps(count(data, sim.models)))
    except (GatewayError, VLLMError) as exc:
        return exc.to_response()


async def serve_embedding(request: Request, sim: SimState) -> Response:
    sim.stats.start()
    faults = sim.faults
    admitted = await _admit(request, sim, faults)
    if isinstance(admitted, Response):
        return admitted
    try:
        job: EmbeddingJob = parse_embedding(admitted, sim.models)
    except VLLMError as exc:
        sim.stats.end(Outcome.REJECTED)
        return exc.to_response()

    record = sim.accept(job.model, job.prompt_tokens)
    if faults.hang:
        return HangResponse(record)
    if faults.malformed_stream:
        body = MALFORMED_BODY
    else:
        body = payloads.embedding_body(job, sim.settings.embedding_dim)
    return _answer(
        record, body, faults, ttft_s=faults.ttft_s, rest_s=0.0, tokens=0, finish_reason="stop"
    )


def _answer(
    record: RequestRecord,
    body: bytes,
    faults: FaultConfig,
    *,
    ttft_s: float,
    rest_s: float,
    tokens: int,
    finish_reason: str,
) -> Response:
    """A whole-body answer: at once when nothing delays or cuts it."""
    faulty = faults.malformed_stream
    cut = faults.disconnect_after_tokens is not None
    if ttft_s > 0 or rest_s > 0 or cut:
        return DelayedResponse(
            record,
            body,
            ttft_s=ttft_s,
            rest_s=rest_s,
            tokens=tokens,
            finish_reason=finish_reason,
            cut=cut,
            faulty=faulty,
        )
    record.first_token()
    record.end(Outcome.INJECTED if faulty else Outcome.COMPLETED, tokens, finish_reason)
    return plain_json(body)
