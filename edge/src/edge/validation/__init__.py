"""Edge's checks on a request, before any Redis or provider work is done for its body.

In the order edge applies them: header size (before authentication, which reads them),
then, once the caller is known, the content type, the body's size as it is read, its
JSON and nesting depth, and the fields of the API it speaks (``validation.openai``,
``validation.responses``, ``validation.messages``).
What edge learned goes inward as the signed :class:`RequestSummary`.
"""

from __future__ import annotations

from typing import Any

from starlette.requests import Request

from edge.validation.fields import bad
from edge.validation.messages import MessagesBodies
from edge.validation.openai import Limits, OpenAIBodies
from edge.validation.responses import ResponsesBodies
from gateway_shared.bodies import parse_object, requested_output_tokens
from gateway_shared.errors import GatewayError
from gateway_shared.tokens import estimate_prompt_tokens
from gateway_shared.wire.identity import Api, RequestSummary

__all__ = [
    "Bodies",
    "Limits",
    "check_content_type",
    "check_header_size",
    "read_body",
]


def check_header_size(raw_headers: list[tuple[bytes, bytes]], limit: int) -> None:
    if sum(len(k) + len(v) for k, v in raw_headers) > limit:
        raise GatewayError(
            f"Request headers too large: the limit is {limit} bytes.",
            status=431,
            code="headers_too_large",
        )


def check_content_type(content_type: str | None) -> None:
    if content_type is None:
        return
    media = content_type.split(";", 1)[0].strip().lower()
    if media != "application/json" and not media.endswith("+json"):
        raise GatewayError(
            f"Unsupported Content-Type {media!r}: send application/json.",
            status=415,
            code="unsupported_media_type",
        )


async def read_body(request: Request, limit: int) -> bytes:
    """The whole body, refused with 413 as soon as it passes ``limit`` bytes."""
    declared = request.headers.get("content-length")
    too_large = GatewayError(
        f"Request body too large: the limit is {limit} bytes.",
        status=413,
        code="request_too_large",
    )
    if declared is not None and declared.isdigit() and int(declared) > limit:
        raise too_large
    chunks = []
    size = 0
    async for chunk in request.stream():
        size += len(chunk)
        if size > limit:
            raise too_large
        chunks.append(chunk)
    return b"".join(chunks)


def _depth_exceeds(value: Any, limit: int) -> bool:
    # Walks containers only (strings are leaves), so its cost is the body's structure,
    # not its size.
    stack = [(value, 1)]
    while stack:
        node, depth = stack.pop()
        if depth > limit:
            return True
        if isinstance(node, dict):
            stack.extend((v, depth + 1) for v in node.values() if isinstance(v, dict | list))
        elif isinstance(node, list):
            stack.extend((v, depth + 1) for v in node if isinstance(v, dict | list))
    return False


class Bodies:
    """Parses and checks the body of every API edge serves; one per edge process."""

    def __init__(self, limits: Limits) -> None:
        self._limits = limits
        self._openai = OpenAIBodies(limits)
        self._responses = ResponsesBodies(limits)
        self._messages = MessagesBodies(limits)

    def check(self, api: Api, raw: bytes) -> tuple[dict[str, Any], RequestSummary]:
        """The parsed body and its summary; raises a 400 naming what is wrong."""
        body = parse_object(raw)
        if _depth_exceeds(body, self._limits.max_depth):
            raise bad(
                f"The request body is nested deeper than {self._limits.max_depth} levels.",
                "body",
                "nesting_too_deep",
            )
        if api is Api.RESPONSES:
            self._responses.check(body)
        elif api in (Api.MESSAGES, Api.COUNT_TOKENS):
            self._messages.check(body, counting=api is Api.COUNT_TOKENS)
        else:
            self._openai.check(api, body)
        produces = api not in (Api.EMBEDDINGS, Api.COUNT_TOKENS)
        return body, RequestSummary(
            api=api,
            model=body["model"],
            stream=body.get("stream") is True and produces,
            prompt_tokens=estimate_prompt_tokens(body),
            max_output_tokens=requested_output_tokens(body) if produces else None,
        )
