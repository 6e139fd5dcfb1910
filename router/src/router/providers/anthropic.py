"""Anthropic's Messages API behind the OpenAI chat completions contract.

Chat only (``/v1/chat/completions``, streaming or not); the router never sends it text
completions or embeddings. Requests and answers are translated by
:mod:`router.providers.anthropic_format`.

- ``base_url`` is Anthropic's API root (``https://api.anthropic.com``, as its SDK has
  it); the adapter adds ``/v1/messages`` and ``/v1/models``.
- HTTPS only, except a loopback host (127.0.0.1, ::1, localhost), which is allowed over
  plain HTTP so tests can put a simulated Anthropic server behind the adapter.
- The key comes from the environment variable ``api_key_env`` names (filled by Doppler)
  and is sent as ``x-api-key``, with ``anthropic-version``.
- Health checks list the models at a low rate (every 60 s unless the catalog says).
"""

from __future__ import annotations

import os
from typing import Any
from urllib.parse import urlsplit

import httpx
import orjson

from router.catalog import Deployment
from router.providers.anthropic_format import AnthropicEvents, completion_body, request_body
from router.providers.base import Completion, CompletionStream, Operation, Provider
from router.providers.errors import (
    ProviderError,
    ProviderRejected,
    ProviderUnavailable,
)
from router.providers.upstream import (
    SSEStream,
    assembled,
    client_timeout,
    fetch,
    model_ids,
    open_stream,
    status_error,
    whole_answer_limit,
)

API_VERSION = "2023-06-01"
LOOPBACK_HOSTS = frozenset({"127.0.0.1", "::1", "localhost"})


def _error_detail(body: bytes) -> tuple[str | None, str | None]:
    """Anthropic's ``{"type": "error", "error": {"type", "message"}}``: (type, message)."""
    try:
        error = orjson.loads(body).get("error")
    except (orjson.JSONDecodeError, AttributeError):
        return None, None
    if not isinstance(error, dict):
        return None, None
    kind, message = error.get("type"), error.get("message")
    return (
        kind if isinstance(kind, str) else None,
        message[:2000] if isinstance(message, str) and message else None,
    )


def error_for_status(status: int, headers: httpx.Headers, body: bytes) -> ProviderError:
    """Anthropic's error statuses (including 529 overloaded) in the gateway's hierarchy."""
    if (error := status_error(status, headers)) is not None:
        return error
    kind, message = _error_detail(body)
    return ProviderRejected(message or "The model provider rejected the request.", status, kind)


class Anthropic(Provider):
    type: str = "anthropic"
    operations: frozenset[Operation] = frozenset({Operation.CHAT})
    default_health_interval: float = 60.0

    def __init__(self, deployment: Deployment, client: httpx.AsyncClient) -> None:
        url = urlsplit(deployment.base_url)
        if url.scheme != "https" and url.hostname not in LOOPBACK_HOSTS:
            raise ValueError(
                f"deployment {deployment.name!r}: Anthropic is reached over HTTPS only "
                "(plain HTTP is allowed for a loopback test server)"
            )
        if not deployment.api_key_env:
            raise ValueError(
                f"deployment {deployment.name!r}: set api_key_env (e.g. ANTHROPIC_API_KEY)"
            )
        super().__init__(deployment, client)
        self._base = deployment.base_url.rstrip("/")
        self._headers = {
            "content-type": "application/json",
            "x-api-key": os.environ[deployment.api_key_env],
            "anthropic-version": API_VERSION,
        }
        self._timeout = client_timeout(deployment.timeouts)
        self._messages_url = httpx.URL(self._base + "/v1/messages")  # parsed once

    def _request(self, body: dict[str, Any], *, stream: bool) -> httpx.Request:
        upstream = request_body(body, self.deployment.model, stream=stream)
        return self.client.build_request(
            "POST",
            self._messages_url,
            content=orjson.dumps(upstream),
            headers=self._headers,
            timeout=self._timeout,
        )

    @staticmethod
    def _check(operation: Operation) -> None:
        if operation is not Operation.CHAT:
            raise ProviderRejected(
                "This model supports only chat completions.", 400, "unsupported_operation"
            )

    async def complete(self, operation: Operation, body: dict[str, Any]) -> Completion:
        self._check(operation)
        if self.deployment.can_stream:
            return await assembled(self._open(body, wants_usage=True), operation)
        request = self._request(body, stream=False)
        limit = whole_answer_limit(operation, self.deployment.timeouts)
        _, content = await fetch(self.client, request, limit, error_for_status)
        try:
            message = orjson.loads(content)
        except orjson.JSONDecodeError:
            raise ProviderUnavailable("The model provider sent an unreadable answer.") from None
        answer, usage = completion_body(message)
        return Completion(
            status=200, body=orjson.dumps(answer), content_type="application/json", usage=usage
        )

    async def stream(self, operation: Operation, body: dict[str, Any]) -> CompletionStream:
        self._check(operation)
        options = body.get("stream_options")
        wants_usage = isinstance(options, dict) and options.get("include_usage") is True
        return await self._open(body, wants_usage=wants_usage)

    async def _open(self, body: dict[str, Any], *, wants_usage: bool) -> SSEStream:
        return await open_stream(
            self.client,
            self._request(body, stream=True),
            self.deployment.timeouts,
            error_for_status,
            AnthropicEvents(wants_usage, body),
        )

    async def list_models(self) -> list[str]:
        return await model_ids(self.client, self._base + "/v1/models", self._headers, self._timeout)
