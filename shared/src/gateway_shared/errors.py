"""One error envelope per public API, the same in every tier: OpenAI's
``{"error": {message, type, param, code}}`` on the OpenAI routes, Anthropic's
``{"type": "error", "error": {type, message}}`` on the Messages routes (``/v1/messages``),
each with the error ``type`` its SDKs expect for the status.

Handlers raise :class:`GatewayError` (or a subclass chosen by status); the handlers that
:func:`install_error_handlers` registers turn it, FastAPI's validation errors, unknown
routes and any unexpected exception into the envelope of the request's path. Unexpected
exceptions are logged with their traceback server-side and answered as a bare 500 -
never a stack trace.
"""

from __future__ import annotations

import logging
from collections.abc import Mapping
from enum import StrEnum
from typing import Any

import orjson
from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from starlette.exceptions import HTTPException as StarletteHTTPException
from starlette.responses import Response

log = logging.getLogger("gateway.errors")

# OpenAI's `type` for each status family, as its API returns them.
_TYPE_BY_STATUS = {
    400: "invalid_request_error",
    401: "authentication_error",
    403: "permission_error",
    404: "invalid_request_error",
    405: "invalid_request_error",
    409: "invalid_request_error",
    413: "invalid_request_error",
    415: "invalid_request_error",
    422: "invalid_request_error",
    429: "rate_limit_error",
}


# Anthropic's `type` for each status (its API's errors page).
_ANTHROPIC_TYPE_BY_STATUS = {
    400: "invalid_request_error",
    401: "authentication_error",
    403: "permission_error",
    404: "not_found_error",
    413: "request_too_large",
    429: "rate_limit_error",
    529: "overloaded_error",
}
ANTHROPIC_ROUTES = "/v1/messages"


class Envelope(StrEnum):
    OPENAI = "openai"
    ANTHROPIC = "anthropic"


def envelope_of(path: str) -> Envelope:
    """The error envelope of the public API a path belongs to."""
    if path == ANTHROPIC_ROUTES or path.startswith(ANTHROPIC_ROUTES + "/"):
        return Envelope.ANTHROPIC
    return Envelope.OPENAI


def error_type_for(status: int) -> str:
    if status in _TYPE_BY_STATUS:
        return _TYPE_BY_STATUS[status]
    return "server_error" if status >= 500 else "invalid_request_error"


def anthropic_type_for(status: int) -> str:
    if status in _ANTHROPIC_TYPE_BY_STATUS:
        return _ANTHROPIC_TYPE_BY_STATUS[status]
    return "api_error" if status >= 500 else "invalid_request_error"


def error_body(
    message: str,
    *,
    status: int = 400,
    type_: str | None = None,
    param: str | None = None,
    code: str | None = None,
) -> dict[str, Any]:
    return {
        "error": {
            "message": message,
            "type": type_ or error_type_for(status),
            "param": param,
            "code": code,
        }
    }


def error_response(
    message: str,
    *,
    status: int = 400,
    type_: str | None = None,
    param: str | None = None,
    code: str | None = None,
    headers: Mapping[str, str] | None = None,
    envelope: Envelope = Envelope.OPENAI,
) -> Response:
    if envelope is Envelope.ANTHROPIC:
        payload = {
            "type": "error",
            "error": {"type": anthropic_type_for(status), "message": message},
        }
    else:
        payload = error_body(message, status=status, type_=type_, param=param, code=code)
    return Response(
        orjson.dumps(payload), status_code=status, media_type="application/json", headers=headers
    )


class GatewayError(Exception):
    """An error a client should see, with the status and OpenAI fields to answer it."""

    def __init__(
        self,
        message: str,
        *,
        status: int = 400,
        code: str | None = None,
        param: str | None = None,
        type_: str | None = None,
        headers: dict[str, str] | None = None,
    ) -> None:
        super().__init__(message)
        self.message = message
        self.status = status
        self.code = code
        self.param = param
        self.type = type_ or error_type_for(status)
        self.headers = headers

    def to_response(self, envelope: Envelope = Envelope.OPENAI) -> Response:
        return error_response(
            self.message,
            status=self.status,
            type_=self.type,
            param=self.param,
            code=self.code,
            headers=self.headers,
            envelope=envelope,
        )

    def to_body(self) -> dict[str, Any]:
        return error_body(
            self.message, status=self.status, type_=self.type, param=self.param, code=self.code
        )


def model_not_found(model: str) -> GatewayError:
    """A model that does not exist, or that the key may not use: the same answer, so a
    key learns nothing of the models beyond its own (docs/decisions.md)."""
    return GatewayError(
        f"The model `{model}` does not exist or you do not have access to it.",
        status=404,
        param="model",
        code="model_not_found",
    )


def _validation_message(exc: RequestValidationError) -> tuple[str, str | None]:
    errors = exc.errors()
    if not errors:
        return "Invalid request.", None
    first = errors[0]
    loc = [str(p) for p in first.get("loc", ()) if p not in ("body", "query", "path", "header")]
    param = ".".join(loc) or None
    msg = str(first.get("msg", "invalid value"))
    return (f"Invalid value for '{param}': {msg}" if param else msg), param


def install_error_handlers(app: FastAPI) -> None:
    """Answer every error of ``app`` in OpenAI's envelope."""

    async def gateway_error(request: Request, exc: Exception) -> Response:
        assert isinstance(exc, GatewayError)
        return exc.to_response(envelope_of(request.scope["path"]))

    async def http_error(request: Request, exc: Exception) -> Response:
        assert isinstance(exc, StarletteHTTPException)
        status = exc.status_code
        if status == 404:
            message = "Unknown request URL. Please check the URL and method."
            code = "unknown_url"
        elif status == 405:
            message = "Method not allowed for this URL."
            code = "method_not_allowed"
        else:
            message = str(exc.detail)
            code = None
        envelope = envelope_of(request.scope["path"])
        return error_response(
            message, status=status, code=code, headers=exc.headers, envelope=envelope
        )

    async def validation_error(request: Request, exc: Exception) -> Response:
        assert isinstance(exc, RequestValidationError)
        message, param = _validation_message(exc)
        envelope = envelope_of(request.scope["path"])
        return error_response(
            message, status=400, param=param, code="invalid_value", envelope=envelope
        )

    async def unexpected_error(request: Request, exc: Exception) -> Response:
        log.error("unhandled error on %s %s", request.method, request.url.path, exc_info=exc)
        return error_response(
            "The server had an error processing your request.",
            status=500,
            envelope=envelope_of(request.scope["path"]),
        )

    app.add_exception_handler(GatewayError, gateway_error)
    app.add_exception_handler(StarletteHTTPException, http_error)
    app.add_exception_handler(RequestValidationError, validation_error)
    app.add_exception_handler(Exception, unexpected_error)
