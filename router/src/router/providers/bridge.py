"""Each public API served by any deployment that can: natively where the deployment
speaks it, translated (one module per API pair and direction) where it speaks only chat
completions.

The router's routes pick the :class:`Bridge` of the API a request speaks; the dispatcher
asks it which deployments can serve the request, and calls a deployment's adapter
through it on every attempt:

- chat completions, completions and embeddings go to the adapter's operation of the
  same name (:class:`Direct`);
- the Responses API (:class:`ResponsesBridge`) goes to the deployment's own
  ``/v1/responses`` where it has one (``native_apis`` in the catalog), else to its chat
  completions through :mod:`router.providers.responses_request` (the answer back through
  :mod:`router.providers.responses_answer`). Reasoning items a client replays
  (encrypted, only valid where they were made) go to a native deployment untouched, but
  are dropped when the request fails over to another deployment than its first
  attempt's, and always when translating;
- Anthropic's Messages API (:class:`MessagesBridge`) likewise, through
  :mod:`router.providers.messages_request` and :mod:`router.providers.messages_answer`
  where it is translated.
"""

from __future__ import annotations

import os
import time
from abc import ABC, abstractmethod
from collections.abc import AsyncIterator, Callable
from typing import Any, Protocol

import orjson

from gateway_shared.sse import EventFramer
from gateway_shared.tokens import estimate_prompt_tokens
from gateway_shared.wire.identity import Api
from router.providers import messages_answer, messages_request
from router.providers.base import (
    Completion,
    CompletionStream,
    Headers,
    Operation,
    Provider,
    Usage,
)
from router.providers.errors import ProviderError, ProviderRejected
from router.providers.responses_answer import ResponsesEvents, response_object
from router.providers.responses_request import chat_request


class Bridge(ABC):
    """One public API's way to a deployment's adapter."""

    #: Where the request's output cap goes (``wire.admission``).
    output_cap_field: str = "max_tokens"

    @abstractmethod
    def serves(self, provider: Provider) -> bool:
        """Can this deployment answer the API at all (natively or translated)?"""

    @abstractmethod
    async def complete(
        self, provider: Provider, body: dict[str, Any], *, failover: bool, headers: Headers = None
    ) -> Completion:
        """A whole answer, in the API's format."""

    @abstractmethod
    async def stream(
        self, provider: Provider, body: dict[str, Any], *, failover: bool, headers: Headers = None
    ) -> CompletionStream:
        """A stream in the API's format, returned once its first token came."""


class Direct(Bridge):
    """An API the adapters speak themselves: chat completions, completions, embeddings."""

    def __init__(self, operation: Operation) -> None:
        self.operation = operation

    def serves(self, provider: Provider) -> bool:
        return self.operation in provider.operations

    async def complete(
        self, provider: Provider, body: dict[str, Any], *, failover: bool, headers: Headers = None
    ) -> Completion:
        return await provider.complete(self.operation, body)

    async def stream(
        self, provider: Provider, body: dict[str, Any], *, failover: bool, headers: Headers = None
    ) -> CompletionStream:
        return await provider.stream(self.operation, body)


def _response_id() -> str:
    return "resp_" + os.urandom(24).hex()


def _without_reasoning(body: dict[str, Any]) -> dict[str, Any]:
    items = body.get("input")
    if not isinstance(items, list):
        return body
    kept = [i for i in items if not (isinstance(i, dict) and i.get("type") == "reasoning")]
    return {**body, "input": kept}


# A chat field a translated request was refused for, by its Responses API name.
_RESPONSES_PARAMS = {
    "response_format": "text.format",
    "max_completion_tokens": "max_output_tokens",
    "reasoning_effort": "reasoning.effort",
}


def _as_responses(error: ProviderRejected) -> ProviderRejected:
    """A refusal of the translated chat request, naming the field the client sent."""
    name = _RESPONSES_PARAMS.get(error.param or "")
    if name is None:
        return error
    message = error.message.replace(f"'{error.param}'", f"'{name}'")
    return ProviderRejected(message, error.status, error.code, name)


class ResponsesBridge(Bridge):
    output_cap_field = "max_output_tokens"

    def serves(self, provider: Provider) -> bool:
        return bool({Operation.RESPONSES, Operation.CHAT} & provider.operations)

    async def complete(
        self, provider: Provider, body: dict[str, Any], *, failover: bool, headers: Headers = None
    ) -> Completion:
        if Operation.RESPONSES in provider.operations:
            native = _without_reasoning(body) if failover else body
            return await provider.complete(Operation.RESPONSES, native)
        try:
            chat = await provider.complete(Operation.CHAT, chat_request(body))
        except ProviderRejected as exc:
            raise _as_responses(exc) from None
        usage = chat.usage or Usage(0, 0, estimated=True)
        answer = response_object(
            orjson.loads(chat.body), body, response_id=_response_id(), usage=usage
        )
        return Completion(
            200, orjson.dumps(answer), "application/json", chat.usage, chat.first_token_seconds
        )

    async def stream(
        self, provider: Provider, body: dict[str, Any], *, failover: bool, headers: Headers = None
    ) -> CompletionStream:
        if Operation.RESPONSES in provider.operations:
            native = _without_reasoning(body) if failover else body
            return await provider.stream(Operation.RESPONSES, native)
        try:
            chat = await provider.stream(Operation.CHAT, chat_request(body))
        except ProviderRejected as exc:
            raise _as_responses(exc) from None
        events = ResponsesEvents(body, _response_id(), int(time.time()))
        return Translated(chat, events, failed=lambda e: events.fail("server_error", e.message))


class _Events(Protocol):
    def start(self) -> list[bytes]: ...

    def feed(self, event: bytes) -> list[bytes]: ...

    def finish(self, usage: Usage) -> list[bytes]: ...


class Translated(CompletionStream):
    """A chat stream, seen as another API's events (``events``: that API's translator;
    ``failed``: its failure events for a stream that broke)."""

    def __init__(
        self,
        chat: CompletionStream,
        events: _Events,
        *,
        failed: Callable[[ProviderError], list[bytes]],
    ) -> None:
        self._chat = chat
        self._events = events
        self._failed = failed

    @property
    def usage(self) -> Usage:
        return self._chat.usage

    async def __aiter__(self) -> AsyncIterator[bytes]:
        framer = EventFramer()
        yield b"".join(self._events.start())
        async for chunk in self._chat:
            out = [e for event in framer.feed(chunk) for e in self._events.feed(event)]
            if out:
                yield b"".join(out)
        yield b"".join(self._events.finish(self._chat.usage))

    def failure_event(self, error: ProviderError) -> bytes:
        return b"".join(self._failed(error))

    async def aclose(self) -> None:
        await self._chat.aclose()


def _message_id() -> str:
    return "msg_" + os.urandom(12).hex()


class MessagesBridge(Bridge):
    """Anthropic's Messages API: natively to Anthropic and deployments whose catalog
    entry says they serve it (recent vLLM), with the client's ``anthropic-beta``; through
    :mod:`router.providers.messages_request` to chat completions for the others (the answer
    back through :mod:`router.providers.messages_answer`)."""

    def serves(self, provider: Provider) -> bool:
        return bool({Operation.MESSAGES, Operation.CHAT} & provider.operations)

    async def complete(
        self, provider: Provider, body: dict[str, Any], *, failover: bool, headers: Headers = None
    ) -> Completion:
        if Operation.MESSAGES in provider.operations:
            return await provider.complete(Operation.MESSAGES, body, headers)
        chat = await provider.complete(Operation.CHAT, messages_request.chat_request(body))
        usage = chat.usage or Usage(0, 0, estimated=True)
        message = messages_answer.message_object(
            orjson.loads(chat.body), body, message_id=_message_id(), usage=usage
        )
        return Completion(
            200, orjson.dumps(message), "application/json", chat.usage, chat.first_token_seconds
        )

    async def stream(
        self, provider: Provider, body: dict[str, Any], *, failover: bool, headers: Headers = None
    ) -> CompletionStream:
        if Operation.MESSAGES in provider.operations:
            return await provider.stream(Operation.MESSAGES, body, headers)
        chat = await provider.stream(Operation.CHAT, messages_request.chat_request(body))
        events = messages_answer.MessagesEvents(body, _message_id(), estimate_prompt_tokens(body))
        return Translated(chat, events, failed=lambda e: events.fail("api_error", e.message))


BRIDGES: dict[Api, Bridge] = {
    Api.CHAT: Direct(Operation.CHAT),
    Api.COMPLETIONS: Direct(Operation.COMPLETIONS),
    Api.EMBEDDINGS: Direct(Operation.EMBEDDINGS),
    Api.RESPONSES: ResponsesBridge(),
    Api.MESSAGES: MessagesBridge(),
}
