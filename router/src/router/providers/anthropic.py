"""Anthropic's Messages API: natively for the Messages API, and behind the OpenAI chat
completions contract for chat (and, through chat, the Responses API).

- Messages (the ``messages`` operation): the request passes through with the model name
  swapped for the deployment's and the client's ``anthropic-beta`` passed on; events pass
  through (:mod:`router.providers.messages_native`); ``count_tokens`` asks Anthropic's own.
- Chat (``/v1/chat/completions``, streaming or not): requests and answers are translated
  by :mod:`router.providers.anthropic_format`. The router never sends it text
  completions or embeddings.

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

from gateway_shared.tokens import estimate_prompt_tokens
from gateway_shared.wire.headers import ANTHROPIC_BETA
from router.catalog import Deployment
from router.providers.anthropic_format import (
    AnthropicEvents,
    completion_body,
    request_body,
    usage_of,
)
from router.providers.base import Completion, CompletionStream, Headers, Operation, Provider
from router.providers.errors import (
    ProviderError,
    ProviderRejected,
    ProviderUnavailable,
)
from router.providers.messages_native import NativeMessagesEvents
from router.providers.upstream import (
    EventTranslator,
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
    operations: frozenset[Operation] = frozenset({Operation.CHAT, Operation.MESSAGES})
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
        self._count_url = httpx.URL(self._base + "/v1/messages/count_tokens")

    def _request(
        self, operation: Operation, body: dict[str, Any], headers: Headers, *, stream: bool
    ) -> httpx.Request:
        if operation is Operation.MESSAGES:
            upstream = {**body, "model": self.deployment.model}
            if stream:
                upstream["stream"] = True
        else:
            upstream = request_body(body, self.deployment.model, stream=stream)
        return self.client.build_request(
            "POST",
            self._messages_url,
            content=orjson.dumps(upstream),
            headers=self._with_betas(headers),
            timeout=self._timeout,
        )

    def _with_betas(self, headers: Headers) -> dict[str, str]:
        beta = headers.get(ANTHROPIC_BETA) if headers else None
        return self._headers | {ANTHROPIC_BETA: beta} if beta else self._headers

    @staticmethod
    def _check(operation: Operation) -> None:
        if operation not in (Operation.CHAT, Operation.MESSAGES):
            raise ProviderRejected(
                "This model supports only chat completions and messages.",
                400,
                "unsupported_operation",
            )

    async def complete(
        self, operation: Operation, body: dict[str, Any], headers: Headers = None
    ) -> Completion:
        self._check(operation)
        if self.deployment.can_stream:
            return await assembled(
                self._open(operation, body, headers, wants_usage=True), operation
            )
        request = self._request(operation, body, headers, stream=False)
        limit = whole_answer_limit(operation, self.deployment.timeouts)
        _, content = await fetch(self.client, request, limit, error_for_status)
        try:
            message = orjson.loads(content)
        except orjson.JSONDecodeError:
            raise ProviderUnavailable("The model provider sent an unreadable answer.") from None
        if operation is Operation.MESSAGES:
            usage = usage_of(message.get("usage") if isinstance(message, dict) else None)
            return Completion(200, content, "application/json", usage)
        answer, usage = completion_body(message)
        return Completion(
            status=200, body=orjson.dumps(answer), content_type="application/json", usage=usage
        )

    async def stream(
        self, operation: Operation, body: dict[str, Any], headers: Headers = None
    ) -> CompletionStream:
        self._check(operation)
        options = body.get("stream_options")
        wants_usage = isinstance(options, dict) and options.get("include_usage") is True
        return await self._open(operation, body, headers, wants_usage=wants_usage)

    async def _open(
        self, operation: Operation, body: dict[str, Any], headers: Headers, *, wants_usage: bool
    ) -> SSEStream:
        translator: EventTranslator = (
            NativeMessagesEvents(estimate_prompt_tokens(body))
            if operation is Operation.MESSAGES
            else AnthropicEvents(wants_usage, body)
        )
        return await open_stream(
            self.client,
            self._request(operation, body, headers, stream=True),
            self.deployment.timeouts,
            error_for_status,
            translator,
        )

    async def count_tokens(self, body: dict[str, Any], headers: Headers = None) -> int | None:
        """Anthropic's own count for a Messages request."""
        request = self.client.build_request(
            "POST",
            self._count_url,
            content=orjson.dumps({**body, "model": self.deployment.model}),
            headers=self._with_betas(headers),
            timeout=self._timeout,
        )
        _, content = await fetch(
            self.client, request, self.deployment.timeouts.first_token, error_for_status
        )
        try:
            counted = orjson.loads(content).get("input_tokens")
        except (orjson.JSONDecodeError, AttributeError):
            return None
        return counted if isinstance(counted, int) else None

    async def list_models(self) -> list[str]:
        return await model_ids(self.client, self._base + "/v1/models", self._headers, self._timeout)
