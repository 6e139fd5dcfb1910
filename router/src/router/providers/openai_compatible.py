"""Adapters for providers that speak the OpenAI API themselves (OpenAI, vLLM).

The request body passes through with the model name swapped for the deployment's, and,
on streams, ``stream_options.include_usage`` forced on so the gateway always learns the
real usage; the usage chunk is taken out again when the client did not ask for it.
"""

from __future__ import annotations

import logging
import os
from collections.abc import AsyncIterator
from typing import Any

import httpx
import orjson

from gateway_shared.sse import DONE, EventFramer
from gateway_shared.tokens import estimate_prompt_tokens
from router.catalog import Deployment
from router.providers.base import Completion, CompletionStream, Operation, Provider, Usage
from router.providers.errors import (
    ProviderError,
    ProviderRateLimited,
    ProviderRejected,
    ProviderTimeout,
    ProviderUnavailable,
    StreamInterrupted,
)

log = logging.getLogger("router.providers")

PATHS = {
    Operation.CHAT: "/chat/completions",
    Operation.COMPLETIONS: "/completions",
    Operation.EMBEDDINGS: "/embeddings",
}
# Bound on an error body read from a provider: enough for any real message.
_ERROR_BODY_LIMIT = 64 * 1024


def _retry_after(headers: httpx.Headers) -> float | None:
    try:
        return float(headers["retry-after"])
    except (KeyError, ValueError):
        return None


def _usage_from(payload: Any) -> Usage | None:
    usage = payload.get("usage") if isinstance(payload, dict) else None
    if not isinstance(usage, dict):
        return None
    prompt = usage.get("prompt_tokens")
    completion = usage.get("completion_tokens", 0)
    if not isinstance(prompt, int) or not isinstance(completion, int):
        return None
    return Usage(prompt, completion)


def _provider_message(body: bytes) -> tuple[str, str | None]:
    try:
        error = orjson.loads(body).get("error")
        message = error.get("message") if isinstance(error, dict) else error
        code = error.get("code") if isinstance(error, dict) else None
        if isinstance(message, str) and message:
            return message[:2000], str(code) if code is not None else None
    except (orjson.JSONDecodeError, AttributeError):
        pass
    return "The model provider rejected the request.", None


def error_for_status(status: int, headers: httpx.Headers, body: bytes) -> ProviderError:
    """Translate a provider's non-2xx answer into the gateway's error hierarchy."""
    if status == 429:
        return ProviderRateLimited(_retry_after(headers))
    if status >= 500:
        return ProviderUnavailable(
            f"The model provider failed with status {status}.", retry_after=_retry_after(headers)
        )
    if status in (401, 403):
        # The provider refused the gateway's credentials: an operator problem, and its
        # message might echo part of the key, so it is not passed on.
        log.error("provider rejected the gateway's credentials (status %d)", status)
        return ProviderError("The gateway is misconfigured for this model provider.")
    message, code = _provider_message(body)
    return ProviderRejected(message, status, code)


class OpenAIStream(CompletionStream):
    def __init__(
        self, response: httpx.Response, client_wants_usage: bool, prompt_estimate: int
    ) -> None:
        self._response = response
        self._client_wants_usage = client_wants_usage
        self._prompt_estimate = prompt_estimate
        self._usage: Usage | None = None
        self._chunks = 0

    @property
    def usage(self) -> Usage:
        if self._usage is not None:
            return self._usage
        # Roughly one token per content chunk, as vLLM and OpenAI stream them.
        return Usage(self._prompt_estimate, max(0, self._chunks - 1), estimated=True)

    def _keep(self, event: bytes) -> bool:
        """Record usage from ``event``; False if the client must not see it."""
        if b'"usage"' not in event or b'"usage":null' in event:
            self._chunks += 1
            return True
        try:
            payload = orjson.loads(event[event.index(b"{") :])
        except (ValueError, orjson.JSONDecodeError):
            return True
        self._usage = _usage_from(payload) or self._usage
        # The usage-only chunk (no choices) exists because the gateway asked for it.
        return self._client_wants_usage or bool(payload.get("choices"))

    async def __aiter__(self) -> AsyncIterator[bytes]:
        framer = EventFramer()
        done = False
        try:
            async for chunk in self._response.aiter_raw():
                out = []
                for event in framer.feed(chunk):
                    if event == DONE:
                        done = True
                        out.append(event)
                    elif self._keep(event):
                        out.append(event)
                if out:
                    yield b"".join(out)
        except httpx.HTTPError:
            raise StreamInterrupted() from None
        if not done:
            raise StreamInterrupted()

    async def aclose(self) -> None:
        await self._response.aclose()


class OpenAICompatible(Provider):
    type = "openai-compatible"

    def __init__(self, deployment: Deployment, client: httpx.AsyncClient) -> None:
        super().__init__(deployment, client)
        self._base = deployment.base_url.rstrip("/")
        self._headers = {"content-type": "application/json"}
        if deployment.api_key_env:
            self._headers["authorization"] = f"Bearer {os.environ[deployment.api_key_env]}"
        t = deployment.timeouts
        self._timeout = httpx.Timeout(
            connect=t.connect, read=t.total, write=t.total, pool=t.connect
        )
        self._stream_timeout = httpx.Timeout(
            connect=t.connect, read=t.first_token, write=t.total, pool=t.connect
        )

    def _payload(self, body: dict[str, Any], stream: bool) -> bytes:
        upstream = {**body, "model": self.deployment.model}
        if stream:
            options = body.get("stream_options") or {}
            upstream["stream_options"] = {**options, "include_usage": True}
        return orjson.dumps(upstream)

    async def _send(
        self, operation: Operation, body: dict[str, Any], *, stream: bool
    ) -> httpx.Response:
        request = self.client.build_request(
            "POST",
            self._base + PATHS[operation],
            content=self._payload(body, stream),
            headers=self._headers,
            timeout=self._stream_timeout if stream else self._timeout,
        )
        try:
            response = await self.client.send(request, stream=True)
        except httpx.TimeoutException:
            raise ProviderTimeout() from None
        except httpx.HTTPError:
            raise ProviderUnavailable("Could not connect to the model provider.") from None
        if response.status_code >= 400:
            try:
                error_body = await self._read_bounded(response)
            finally:
                await response.aclose()
            raise error_for_status(response.status_code, response.headers, error_body)
        return response

    @staticmethod
    async def _read_bounded(response: httpx.Response) -> bytes:
        body = b""
        try:
            async for chunk in response.aiter_raw():
                body += chunk
                if len(body) > _ERROR_BODY_LIMIT:
                    break
        except httpx.HTTPError:
            pass
        return body

    async def complete(self, operation: Operation, body: dict[str, Any]) -> Completion:
        response = await self._send(operation, body, stream=False)
        try:
            content = await response.aread()
        except httpx.TimeoutException:
            raise ProviderTimeout() from None
        except httpx.HTTPError:
            raise ProviderUnavailable("The model provider closed the connection.") from None
        finally:
            await response.aclose()
        try:
            usage = _usage_from(orjson.loads(content))
        except orjson.JSONDecodeError:
            raise ProviderUnavailable("The model provider sent an unreadable answer.") from None
        return Completion(
            status=response.status_code,
            body=content,
            content_type=response.headers.get("content-type", "application/json"),
            usage=usage,
        )

    async def stream(self, operation: Operation, body: dict[str, Any]) -> CompletionStream:
        response = await self._send(operation, body, stream=True)
        options = body.get("stream_options")
        wants_usage = isinstance(options, dict) and options.get("include_usage") is True
        return OpenAIStream(response, wants_usage, estimate_prompt_tokens(body))

    async def list_models(self) -> list[str]:
        try:
            response = await self.client.get(
                self._base + "/models", headers=self._headers, timeout=self._timeout
            )
            response.raise_for_status()
            data = response.json().get("data", [])
        except (httpx.HTTPError, ValueError, AttributeError):
            raise ProviderUnavailable("Could not list the provider's models.") from None
        return [str(m.get("id")) for m in data if isinstance(m, dict)]

    async def health(self) -> bool:
        try:
            await self.list_models()
        except ProviderError:
            return False
        return True

    async def aclose(self) -> None:
        """Nothing of its own to release: the HTTP client is shared."""


class VLLM(OpenAICompatible):
    """A vLLM OpenAI-compatible server (or the simulator standing in for one)."""

    type = "vllm"

    async def health(self) -> bool:
        # vLLM's own liveness endpoint sits beside /v1, not under it.
        root = self._base.removesuffix("/v1")
        try:
            response = await self.client.get(root + "/health", timeout=self._timeout)
        except httpx.HTTPError:
            return False
        return response.status_code == 200


class OpenAI(OpenAICompatible):
    """OpenAI's API, over HTTPS only, with the key from the environment Doppler fills."""

    type = "openai"

    def __init__(self, deployment: Deployment, client: httpx.AsyncClient) -> None:
        if not deployment.base_url.startswith("https://"):
            raise ValueError(f"deployment {deployment.name!r}: OpenAI is reached over HTTPS only")
        if not deployment.api_key_env:
            raise ValueError(
                f"deployment {deployment.name!r}: set api_key_env (e.g. OPENAI_API_KEY)"
            )
        super().__init__(deployment, client)
