"""The adapter contract: how the router calls any provider.

An adapter is built from one catalog deployment and the router's pooled HTTP client. It
takes the client's OpenAI-format request body, speaks the provider's API, and returns
OpenAI-format results with typed usage. It imports nothing from FastAPI, and raises only
:mod:`router.providers.errors` exceptions.
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from collections.abc import AsyncIterator, Mapping
from dataclasses import dataclass
from enum import StrEnum
from typing import Any

import httpx

from gateway_shared.prices import Prices
from gateway_shared.sse import data_event
from gateway_shared.wire.report import Usage
from router.catalog import Deployment
from router.providers.errors import ProviderError

__all__ = [
    "PRIORITY_HINT",
    "Completion",
    "CompletionStream",
    "EngineLoad",
    "Headers",
    "Operation",
    "Provider",
    "Usage",
]

# Headers of the client's request a provider may need (Anthropic's ``anthropic-beta``,
# for a deployment that serves the Messages API itself), and the router's hints.
Headers = Mapping[str, str] | None
# The hint holding the key's plan priority (``gateway_shared.plans.Priority``): an
# adapter whose server schedules by priority translates it; none sends it on as is.
PRIORITY_HINT = "x-gateway-priority"


@dataclass(frozen=True, slots=True)
class EngineLoad:
    """An inference server's own view of its load, as its metrics report it."""

    running: int
    waiting: int
    # Share of the KV cache in use, 0 to 1.
    kv_usage: float
    # The KV cache's size in tokens, where the server reports it.
    cache_tokens: int | None = None


class Operation(StrEnum):
    """What a provider is asked to do: an endpoint of its own API."""

    CHAT = "chat"
    COMPLETIONS = "text_completion"
    EMBEDDINGS = "embeddings"
    RESPONSES = "responses"
    MESSAGES = "messages"  # Anthropic's Messages API


@dataclass(frozen=True, slots=True)
class Completion:
    """A whole (non-streaming) answer: the provider's status, body and content type."""

    status: int
    body: bytes
    content_type: str
    usage: Usage | None
    # Seconds from sending to the first token, when the answer was read as a stream.
    first_token_seconds: float | None = None
    # The answering deployment's prices: set by the dispatcher, not by adapters.
    prices: Prices | None = None


class CompletionStream(ABC):
    """An open stream: iterate it for SSE bytes in the format of the API it was opened
    in, then read ``usage``.

    It is returned only once the answer has started (its first token arrived), so the
    first bytes are ready at once. Iteration raises
    :class:`~router.providers.errors.StreamInterrupted` if the provider stops, stalls or
    breaks before the end; ``usage`` then holds an estimate of what was produced, and
    :meth:`failure_event` is the event that tells the client the stream failed.
    """

    @abstractmethod
    def __aiter__(self) -> AsyncIterator[bytes]: ...

    @property
    @abstractmethod
    def usage(self) -> Usage: ...

    @abstractmethod
    async def aclose(self) -> None: ...

    def failure_event(self, error: ProviderError) -> bytes:
        """The stream's last event once ``error`` broke it (chat: an error chunk)."""
        return data_event(error.to_body())


class Provider(ABC):
    """One deployment of one provider type.

    The constructor raises ``ValueError`` for a deployment the adapter cannot serve (say,
    plain HTTP to OpenAI); the router checks this when it loads a catalog, so such a
    catalog is refused as a whole.
    """

    # Class attributes of each adapter; a wrapper (``router.observability.observed``)
    # copies its adapter's onto itself.
    #: The catalog's ``provider`` value for this adapter.
    type: str
    #: What the provider can do; the router sends it nothing else.
    operations: frozenset[Operation] = frozenset(Operation)
    #: Seconds between health checks when the catalog does not say.
    default_health_interval: float = 10.0
    #: Whether :meth:`load` can say anything (only then is it read).
    reports_load: bool = False

    def __init__(self, deployment: Deployment, client: httpx.AsyncClient) -> None:
        self.deployment = deployment
        self.client = client

    @property
    def name(self) -> str:
        return self.deployment.name

    @abstractmethod
    async def complete(
        self, operation: Operation, body: dict[str, Any], headers: Headers = None
    ) -> Completion:
        """A whole answer. Where the provider can stream (``deployment.can_stream``) and
        the operation is not embeddings, read as a stream and assembled
        (``providers.assembly``): every error up to the first token within
        ``timeouts.first_token``, and a stream that breaks later is a retryable failure,
        since nothing reached the client yet."""

    @abstractmethod
    async def stream(
        self, operation: Operation, body: dict[str, Any], headers: Headers = None
    ) -> CompletionStream:
        """Open a stream and wait for its first token, within the deployment's
        ``first_token`` timeout. Every error up to then is raised here, so the router may
        still fail over; once this returns, errors surface while iterating."""

    @abstractmethod
    async def list_models(self) -> list[str]: ...

    async def count_tokens(self, body: dict[str, Any], headers: Headers = None) -> int | None:
        """The provider's own count of a Messages request's input tokens, where it has a
        tokenizer endpoint; None where it has none (the router then estimates)."""
        return None

    async def health(self) -> bool:
        """One cheap probe of the provider (never an inference); False if it failed.
        By default: listing its models."""
        try:
            await self.list_models()
        except ProviderError:
            return False
        return True

    async def load(self) -> EngineLoad | None:
        """The server's current load where it reports one (vLLM's ``/metrics``); None
        where it has none or the read failed."""
        return None

    async def aclose(self) -> None:
        """Release what the adapter holds; the shared HTTP client is the router's to close,
        so by default there is nothing."""
        return
