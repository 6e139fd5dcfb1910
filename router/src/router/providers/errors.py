"""The one error hierarchy adapters raise: upstream failures, translated at the boundary.

Whatever went wrong upstream, what reaches a client is one of these - an OpenAI-shaped
error with the right status - never the provider's URL, credentials or stack trace.

Two flags drive the router:

- ``retryable``: the same request may safely go to another attempt (nothing reached the
  client yet, and the failure was not the request's own fault);
- ``deployment_fault``: the failure says something is wrong with the deployment, so it
  counts against its circuit breaker (a rejected request or a rate limit does not).
"""

from __future__ import annotations

from gateway_shared.errors import GatewayError


class ProviderError(GatewayError):
    retryable = False
    deployment_fault = True

    def __init__(
        self,
        message: str,
        *,
        status: int = 502,
        code: str | None = "provider_error",
        param: str | None = None,
        retry_after: float | None = None,
    ) -> None:
        headers = {"retry-after": str(max(1, round(retry_after)))} if retry_after else None
        super().__init__(message, status=status, code=code, param=param, headers=headers)
        self.retry_after = retry_after


class ProviderUnavailable(ProviderError):
    """Could not connect, the provider answered 5xx, or its answer broke before the first
    byte reached the client: try elsewhere."""

    retryable = True

    def __init__(
        self,
        message: str = "The model provider is unavailable.",
        *,
        retry_after: float | None = None,
    ) -> None:
        super().__init__(message, status=502, code="provider_unavailable", retry_after=retry_after)


class ProviderTimeout(ProviderError):
    """No answer (or no first token) within the deployment's timeout."""

    retryable = True

    def __init__(self, message: str = "The model provider timed out.") -> None:
        super().__init__(message, status=504, code="provider_timeout")


class ProviderRateLimited(ProviderError):
    """The provider said 429: skip it for its Retry-After, try elsewhere meanwhile."""

    retryable = True
    deployment_fault = False

    def __init__(self, retry_after: float | None = None) -> None:
        super().__init__(
            "The model provider is rate limiting the gateway. Please retry shortly.",
            status=429,
            code="provider_rate_limited",
            retry_after=retry_after,
        )


class ProviderRejected(ProviderError):
    """The provider refused the request itself (4xx): the caller's fault, passed through
    with the provider's message, never retried."""

    deployment_fault = False

    def __init__(
        self, message: str, status: int, code: str | None, param: str | None = None
    ) -> None:
        super().__init__(message, status=status, code=code or "invalid_request", param=param)


class StreamInterrupted(ProviderError):
    """The stream broke after the client had received part of it: never retried."""

    def __init__(
        self, message: str = "The model provider's stream was interrupted before it finished."
    ) -> None:
        super().__init__(message, status=502, code="stream_interrupted")
