"""Every answer edge gives carries its request id: ``x-request-id``, and on the Messages
routes ``request-id`` too (what Anthropic's SDKs read). The id is made here, before
anything else runs, so the errors edge produces itself (401, 400, 404, 413...) carry it
as well as the answers that come back from the tiers behind it."""

from __future__ import annotations

import os

from starlette.types import ASGIApp, Message, Receive, Scope, Send

from gateway_shared.errors import Envelope, envelope_of
from gateway_shared.wire.headers import REQUEST_ID

_OPENAI = (REQUEST_ID.encode(),)
_ANTHROPIC = (REQUEST_ID.encode(), b"request-id")


def new_request_id() -> str:
    return "req_" + os.urandom(16).hex()


class RequestIds:
    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        request_id = new_request_id()
        scope.setdefault("state", {})["request_id"] = request_id
        value = request_id.encode()
        names = _ANTHROPIC if envelope_of(scope["path"]) is Envelope.ANTHROPIC else _OPENAI

        async def send_with_id(message: Message) -> None:
            if message["type"] == "http.response.start":
                headers = [h for h in message.get("headers", ()) if h[0] not in names]
                message = {**message, "headers": [*headers, *((n, value) for n in names)]}
            await send(message)

        await self.app(scope, receive, send_with_id)
