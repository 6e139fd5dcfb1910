"""vLLM v0.11.0's error answers, byte for byte where a test can tell.

vLLM's envelope is ``{"error": {"message", "type", "param": null, "code": <status>}}``:
``code`` is the HTTP status as an integer and ``param`` is always ``null`` (unlike
OpenAI's string codes). The kinds, by where vLLM raises them:

- request validation (pydantic, the model validators, the media type): 400, type
  ``Bad Request``, the message the ``repr`` of pydantic's error list (FastAPI <= 0.123);
- a rule of the serving code or of ``SamplingParams``: 400, type ``BadRequestError``,
  vLLM's text;
- an unknown model: 404, type ``NotFoundError``, ``The model `x` does not exist.``;
- a validator raising something other than ``ValueError``, or a body that is no
  object: 500 with the plain-text body ``Internal Server Error``;
- a body that is not UTF-8: 400 with Starlette's ``{"detail": "There was an error
  parsing the body"}``;
- an engine check on a stream: 200, then ``data: {"error": {...}}`` and ``data: [DONE]``.
"""

from __future__ import annotations

import json
from http import HTTPStatus
from typing import Any

import orjson
from starlette.responses import Response

SSE_MEDIA_TYPE = "text/event-stream"


class VLLMError(Exception):
    """A request vLLM refuses: the status and body it answers with."""

    def __init__(self, body: bytes, *, status: int, media_type: str = "application/json") -> None:
        super().__init__(body.decode(errors="replace"))
        self.body = body
        self.status = status
        self.media_type = media_type

    def to_response(self) -> Response:
        return Response(self.body, status_code=self.status, media_type=self.media_type)

    @property
    def error(self) -> dict[str, Any]:
        """The ``error`` object of a JSON answer (tests read it)."""
        payload = self.body.removeprefix(b"data: ").split(b"\n", 1)[0]
        error: dict[str, Any] = orjson.loads(payload)["error"]
        return error


def envelope(message: str, type_: str, status: int) -> dict[str, Any]:
    return {"error": {"message": message, "type": type_, "param": None, "code": status}}


def vllm_error(message: str, type_: str = "BadRequestError", status: int = 400) -> VLLMError:
    return VLLMError(orjson.dumps(envelope(message, type_, status)), status=status)


def request_invalid(errors: list[dict[str, Any]]) -> VLLMError:
    """FastAPI's ``RequestValidationError`` as vLLM's handler answers it."""
    return vllm_error(repr(errors), HTTPStatus.BAD_REQUEST.phrase)


def unsupported_media_type() -> VLLMError:
    # vLLM raises RequestValidationError(errors=[...]) with an empty str(exc): hence the
    # leading space of "str(exc) + ' ' + str(errors)".
    errors = ["Unsupported Media Type: Only 'application/json' is allowed"]
    return vllm_error(f" {errors}", HTTPStatus.BAD_REQUEST.phrase)


def bad_request(message: str) -> VLLMError:
    """An error of vLLM's serving code (``create_error_response``)."""
    return vllm_error(message)


def model_not_found(model: str) -> VLLMError:
    return vllm_error(f"The model `{model}` does not exist.", "NotFoundError", 404)


def internal_error() -> VLLMError:
    return VLLMError(b"Internal Server Error", status=500, media_type="text/plain")


def body_unreadable() -> VLLMError:
    return VLLMError(b'{"detail":"There was an error parsing the body"}', status=400)


def engine_error(message: str, *, stream: bool) -> VLLMError:
    """A check of vLLM's engine: it runs once the answer has started when streaming."""
    if not stream:
        return bad_request(message)
    # vLLM writes stream errors with json.dumps (", " and ": " separators).
    event = json.dumps(envelope(message, "BadRequestError", 400))
    body = f"data: {event}\n\ndata: [DONE]\n\n".encode()
    return VLLMError(body, status=200, media_type=SSE_MEDIA_TYPE)
