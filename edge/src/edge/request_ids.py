"""Every answer edge gives carries its request id twice: ``x-request-id``, and
``request-id``, what Anthropic's SDKs read (on every route, so a client whose URL is wrong
still gets it). The id is made here, before anything else runs, so the errors edge
produces itself (401, 400, 404, 413...) carry it as well as the answers that come back
from the tiers behind it."""

from __future__ import annotations

import os

from starlette.types import ASGIApp, Message, Receive, Scope, Send

from gateway_shared.wire.headers import REQUEST_ID

_NAMES = (REQUEST_ID.encode(), b"request-id")


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

        async def send_with_id(message: Message) -> None:
            if message["type"] == "http.response.start":
                headers = [h for h in message.get("headers", ()) if h[0] not in _NAMES]
                message = {**message, "headers": [*headers, *((n, value) for n in _NAMES)]}
            await send(message)

        await self.app(scope, receive, send_with_id)
