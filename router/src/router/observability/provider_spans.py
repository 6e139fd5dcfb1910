"""The GenAI client span of a provider call: its attributes, in the current GenAI
semantic conventions.

At the start: ``gen_ai.operation.name``, ``gen_ai.provider.name``,
``gen_ai.request.model`` and the request's sampling settings; at the end
``gen_ai.response.model``, ``gen_ai.response.id``, ``gen_ai.response.finish_reasons``,
``gen_ai.usage.input_tokens`` / ``output_tokens`` and, for streams,
``gen_ai.response.time_to_first_chunk``. Prompts and completions only with content
capture on (``genai``). Response details are read only when the span is recorded:
untraced calls pay for none of it.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from typing import Any
from urllib.parse import urlsplit

import orjson
from opentelemetry.trace import Span, SpanKind, Tracer

from router.catalog import Deployment
from router.observability.genai import input_messages, output_messages
from router.providers.base import Completion, Operation

# The conventions' operation names where ours differ: a Responses API call is a chat.
_GENAI_OPERATION = {Operation.RESPONSES: "chat"}
_FINISH_REASON = re.compile(rb'"finish_reason":\s*"([A-Za-z_]{1,32})"')
_RESPONSE_MODEL = re.compile(rb'"model":\s*"([^"\\]{1,200})"')
_RESPONSE_ID = re.compile(rb'"id":\s*"([^"\\]{1,200})"')


def server_attributes(deployment: Deployment) -> dict[str, str | int]:
    url = urlsplit(deployment.base_url)
    return {
        "server.address": url.hostname or "",
        "server.port": url.port or (443 if url.scheme == "https" else 80),
    }


def start_span(
    tracer: Tracer,
    deployment: Deployment,
    server: dict[str, str | int],
    operation: Operation,
    body: Mapping[str, Any],
    *,
    capture: bool,
) -> Span:
    name = _GENAI_OPERATION.get(operation, str(operation))
    span = tracer.start_span(
        f"{name} {deployment.model}",
        kind=SpanKind.CLIENT,
        attributes={
            "gen_ai.operation.name": name,
            "gen_ai.provider.name": deployment.provider,
            "gen_ai.request.model": deployment.model,
            "gateway.deployment": deployment.name,
            **server,
        },
    )
    if span.is_recording():
        _request_attributes(span, body, capture)
    return span


def _request_attributes(span: Span, body: Mapping[str, Any], capture: bool) -> None:
    max_tokens = body.get("max_completion_tokens") or body.get("max_tokens")
    if isinstance(max_tokens, int):
        span.set_attribute("gen_ai.request.max_tokens", max_tokens)
    for name in ("temperature", "top_p"):
        value = body.get(name)
        if isinstance(value, int | float) and not isinstance(value, bool):
            span.set_attribute(f"gen_ai.request.{name}", float(value))
    if capture:
        span.set_attribute("gen_ai.input.messages", input_messages(body))


class ResponseScan:
    """What a span learns from the answer: its model, id and finish reasons."""

    __slots__ = ("_head", "finish_reasons", "span")

    def __init__(self, span: Span) -> None:
        self.span = span
        self._head = True
        self.finish_reasons: list[str] = []

    def chunk(self, chunk: bytes) -> None:
        """A stream chunk (OpenAI format)."""
        if self._head and b'"model"' in chunk:
            self._head = False
            model = _RESPONSE_MODEL.search(chunk)
            if model:
                self.span.set_attribute("gen_ai.response.model", model.group(1).decode())
            response_id = _RESPONSE_ID.search(chunk)
            if response_id:
                self.span.set_attribute("gen_ai.response.id", response_id.group(1).decode())
        if b"finish_reason" in chunk:
            self.finish_reasons.extend(r.decode() for r in _FINISH_REASON.findall(chunk))

    def completion(self, completion: Completion, capture: bool) -> None:
        """A whole answer."""
        try:
            payload = orjson.loads(completion.body)
        except orjson.JSONDecodeError:
            return
        if not isinstance(payload, dict):
            return
        for name, key in (("gen_ai.response.model", "model"), ("gen_ai.response.id", "id")):
            if isinstance(payload.get(key), str):
                self.span.set_attribute(name, payload[key])
        choices = payload.get("choices")
        if isinstance(choices, list):
            self.finish_reasons = [
                str(c["finish_reason"])
                for c in choices
                if isinstance(c, dict) and c.get("finish_reason")
            ]
            if capture:
                self.span.set_attribute("gen_ai.output.messages", output_messages(choices))
