"""A 404 that says what to change: the common ways a client's base URL goes wrong (no
``/v1``, ``/v1`` twice, a trailing slash) are recognised by trying the URL the client
most likely meant against edge's own routes."""

from __future__ import annotations

from fastapi import FastAPI, Request
from starlette.exceptions import HTTPException
from starlette.responses import Response
from starlette.routing import Match

from gateway_shared.errors import GatewayError, envelope_of

_UNKNOWN = "Unknown request URL: {method} {path}."


def _serves(app: FastAPI, method: str, path: str) -> bool:
    scope = {"type": "http", "method": method, "path": path}
    return any(route.matches(scope)[0] is Match.FULL for route in app.router.routes)


def _without_slash(path: str) -> str:
    return f"Remove the trailing slash: the URL is {path.rstrip('/')}."


def trailing_slash(method: str, path: str) -> GatewayError:
    return _not_found(method, path, _without_slash(path))


def _hint(app: FastAPI, method: str, path: str) -> tuple[str, str]:
    """What to change, and the URL the client most likely meant (whose API's envelope the
    answer uses, so an Anthropic client reads it)."""
    if path.startswith("/v1/v1/") and _serves(app, method, path[3:]):
        meant = path[3:]
        return (
            f"The URL has /v1 twice; the gateway serves {meant}. OpenAI's SDKs and Codex "
            "want a base URL ending in /v1; Anthropic's SDKs and Claude Code add /v1 "
            "themselves, so theirs is the gateway's root."
        ), meant
    if path != "/" and path.endswith("/") and _serves(app, method, path.rstrip("/")):
        return _without_slash(path), path.rstrip("/")
    if not path.startswith("/v1/") and _serves(app, method, "/v1" + path):
        return (
            f"The gateway serves this at /v1{path}: set your client's base URL to the "
            "gateway's address followed by /v1 (for example http://127.0.0.1:8080/v1)."
        ), "/v1" + path
    return "Please check the URL and method.", path


def _not_found(method: str, path: str, hint: str) -> GatewayError:
    return GatewayError(
        _UNKNOWN.format(method=method, path=path[:200]) + " " + hint,
        status=404,
        code="unknown_url",
    )


def install(app: FastAPI) -> None:
    """Answer unknown URLs with a hint, and a trailing slash with a 404 that says so rather
    than a redirect with an empty body, which clients surface as an opaque failure."""
    app.router.redirect_slashes = False

    async def unknown_url(request: Request, exc: Exception) -> Response:
        assert isinstance(exc, HTTPException)
        method, path = request.method, request.scope["path"]
        hint, meant = _hint(app, method, path)
        return _not_found(method, path, hint).to_response(envelope_of(meant))

    app.add_exception_handler(404, unknown_url)
