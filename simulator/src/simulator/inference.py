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

from starlette.requests import ClientDisconnect, Request
from starlette.responses import Response

from gateway_shared.errors import GatewayError, error_response
from simulator import payloads
from simulator.faults import FaultConfig
from simulator.parsing import EmbeddingJob, GenerationJob, parse_embedding
from simulator.payloads import MALFORMED_BODY, StreamChunks
from simulator.responses import DelayedResponse, EventStream, HangResponse, plain_json
from simulator.state import RequestRecord, SimState
from simulator.stats import Outcome
from simulator.validation.body import load_body
from simulator.validation.errors import VLLMError

Parser = Callable[[Any, dict[str, bytes]], GenerationJob]


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

    record = sim.accept(job.model, job.prompt_tokens)
    if faults.hang:
        return HangResponse(record)
    limit = faults.output_tokens
    if job.max_tokens is not None and job.max_tokens < limit:
        tokens, finish_reason = job.max_tokens, "length"
    else:
        tokens, finish_reason = limit, "stop"
    rid = payloads.request_id(job.kind)

    if job.stream:
        chunks = StreamChunks(job, rid, int(time.time()), sim.models[job.model])
        return EventStream(
            record,
            chunks,
            faults,
            choices=job.choices,
            tokens=tokens,
            finish_reason=finish_reason,
            prompt_tokens=job.prompt_tokens,
            include_usage=job.include_usage,
        )

    if faults.malformed_stream:
        body = MALFORMED_BODY
    else:
        body = payloads.generation_body(job, rid, int(time.time()), tokens, finish_reason)
    return _answer(
        record,
        body,
        faults,
        ttft_s=faults.ttft_s,
        rest_s=faults.itl_s * (tokens - 1),
        tokens=tokens * job.choices,
        finish_reason=finish_reason,
    )


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
