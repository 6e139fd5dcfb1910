"""HTTP routes: the OpenAI API (``/v1``) with the Responses and Messages APIs recent vLLM
serves (``simulator.apis``) and vLLM's ``/tokenize``, fault control (``/admin``), health
and metrics.

``/v1/*`` and ``/tokenize`` require the API key when ``SIM_API_KEY`` is set (vLLM leaves
``/tokenize`` open; the gateway sends its key anyway); ``/admin``, health and
``/metrics`` never do (the simulator is a development and test tool).

Admin API:

- ``GET /admin/config``: the current :class:`~simulator.faults.FaultConfig` as JSON.
- ``PUT /admin/config``: merge a JSON object holding any subset of its fields; answers
  the new configuration (400 on an unknown field or an invalid value).
- ``POST /admin/reset``: restore the start-time configuration and zero the counters.
- ``GET /admin/stats``: ``{"requests", "in_flight", "completed", "cancelled",
  "errors_injected", "rejected"}`` (see :mod:`simulator.stats`).
"""

from __future__ import annotations

from typing import Any

import orjson
from fastapi import APIRouter, Request
from starlette.responses import Response

from gateway_shared.errors import GatewayError, model_not_found
from simulator import payloads
from simulator.apis.messages import count_tokens, parse_messages
from simulator.apis.responses import parse_responses
from simulator.deps import SimDep, sim_of
from simulator.inference import check_api_key, serve_count, serve_embedding, serve_generation
from simulator.metrics import CONTENT_TYPE
from simulator.parsing import parse_chat, parse_completion, tokenize
from simulator.responses import plain_json

v1 = APIRouter(prefix="/v1")
admin = APIRouter(prefix="/admin")
ops = APIRouter()

_OK = b'{"status":"ok"}'


def _json(value: Any) -> Response:
    return plain_json(orjson.dumps(value))


def _json_body(body: bytes) -> Any:
    try:
        return orjson.loads(body)
    except orjson.JSONDecodeError:
        raise GatewayError("The body is not valid JSON.", code="invalid_json") from None


# The inference routes are plain Starlette routes inside the FastAPI app: FastAPI's
# per-request dependency solving costs more than simulating the whole request, and the
# simulator must never be the bottleneck of a gateway benchmark.
async def chat_completions(request: Request) -> Response:
    return await serve_generation(request, sim_of(request), parse_chat)


async def completions(request: Request) -> Response:
    return await serve_generation(request, sim_of(request), parse_completion)


async def responses(request: Request) -> Response:
    return await serve_generation(request, sim_of(request), parse_responses)


async def messages(request: Request) -> Response:
    return await serve_generation(request, sim_of(request), parse_messages)


async def embeddings(request: Request) -> Response:
    return await serve_embedding(request, sim_of(request))


async def messages_count_tokens(request: Request) -> Response:
    return await serve_count(
        request, sim_of(request), lambda data, models: {"input_tokens": count_tokens(data, models)}
    )


async def tokenize_route(request: Request) -> Response:
    return await serve_count(request, sim_of(request), tokenize)


INFERENCE_ROUTES = (
    ("/v1/chat/completions", chat_completions),
    ("/v1/completions", completions),
    ("/v1/responses", responses),
    ("/v1/messages", messages),
    ("/v1/messages/count_tokens", messages_count_tokens),
    ("/v1/embeddings", embeddings),
    ("/tokenize", tokenize_route),
)


@v1.get("/models")
async def list_models(request: Request, sim: SimDep) -> Response:
    check_api_key(request, sim)
    return plain_json(payloads.models_body(sim.settings.models, sim.created))


@v1.get("/models/{model_id:path}")
async def retrieve_model(model_id: str, request: Request, sim: SimDep) -> Response:
    check_api_key(request, sim)
    if model_id not in sim.models:
        raise model_not_found(model_id)
    return _json(payloads.model_card(model_id, sim.created))


@admin.get("/config")
async def get_config(sim: SimDep) -> Response:
    return _json(sim.faults.model_dump())


@admin.put("/config")
async def put_config(request: Request, sim: SimDep) -> Response:
    patch = _json_body(await request.body())
    sim.faults = sim.faults.merged(patch)
    return _json(sim.faults.model_dump())


@admin.post("/reset")
async def reset(sim: SimDep) -> Response:
    sim.reset()
    return _json({"config": sim.faults.model_dump(), "stats": sim.stats.as_dict()})


@admin.get("/stats")
async def stats(sim: SimDep) -> Response:
    return _json(sim.stats.as_dict())


@ops.get("/health")
async def health() -> Response:
    """vLLM's health check: 200 with an empty body."""
    return Response(status_code=200)


@ops.get("/healthz")
async def healthz() -> Response:
    return plain_json(_OK)


@ops.get("/readyz")
async def readyz() -> Response:
    return plain_json(_OK)


@ops.get("/metrics")
async def metrics(sim: SimDep) -> Response:
    return Response(sim.metrics.render(), media_type=CONTENT_TYPE)
