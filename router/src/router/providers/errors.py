"""The one error hierarchy adapters raise: upstream failures, translated at the boundary.

Whatever went wrong upstream, what reaches a client is one of these - an OpenAI-shaped
error with the right status - never the provider's URL, credentials or stack trace.
``retryable`` says whether the same request may safely go to another attempt.
"""

from __future__ import annotations

from gateway_shared.errors import GatewayError


class ProviderError(GatewayError):
    retryable = False

    def __init__(
        self,
        message: str,
        *,
        status: int = 502,
        code: str = "provider_error",
        retry_after: float | None = None,
    ) -> None:
        headers = {"retry-after": str(max(1, round(retry_after)))} if retry_after else None
        super().__init__(message, status=status, code=code, headers=headers)
        self.retry_after = retry_after


class ProviderUnavailable(ProviderError):
    """Could not connect, or the provider answered 5xx: try elsewhere."""

    retryable = True

    def __init__(self, message: str = "The model provider is unavailable.", **kw: object) -> None:
        super().__init__(message, status=502, code="provider_unavailable", **kw)  # type: ignore[arg-type]


class ProviderTimeout(ProviderError):
    """No answer (or no first token) within the deployment's timeout."""

    retryable = True

    def __init__(self, message: str = "The model provider timed out.") -> None:
        super().__init__(message, status=504, code="provider_timeout")


class ProviderRateLimited(ProviderError):
    retryable = True

    def __init__(self, retry_after: float | None = None) -> None:
        super().__init__(
            "The model provider is rate limiting the gateway. Please retry shortly.",
            status=429,
            code="provider_rate_limited",
            retry_after=retry_after,
        )


class ProviderRejected(ProviderError):
    """The provider refused the request itself (4xx): the caller's fault, not retried."""

    def __init__(self, message: str, status: int, code: str | None) -> None:
        super().__init__(message, status=status, code=code or "invalid_request")


class StreamInterrupted(ProviderError):
    """The stream broke after the client had received part of it: never retried."""

    def __init__(self) -> None:
        super().__init__(
            "The model provider's stream was interrupted before it finished.",
            status=502,
            code="stream_interrupted",
        )
