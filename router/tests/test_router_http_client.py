"""The providers' pooled client: one client serves every tenant, so it keeps no cookies."""

from __future__ import annotations

from collections.abc import AsyncIterator

import pytest
from aiohttp import web

from router.providers.http_client import pooled_client


@pytest.fixture
async def provider() -> AsyncIterator[str]:
    """A provider that sets a cookie on every answer and echoes the cookie it was sent."""

    async def answer(request: web.Request) -> web.Response:
        response = web.json_response({"cookie": request.headers.get("cookie")})
        response.set_cookie("__cf_bm", "tenant-a-session", path="/")
        return response

    app = web.Application()
    app.router.add_post("/v1/chat/completions", answer)
    runner = web.AppRunner(app)
    await runner.setup()
    site = web.TCPSite(runner, "127.0.0.1", 0)
    await site.start()
    port = runner.addresses[0][1]
    try:
        yield f"http://127.0.0.1:{port}"
    finally:
        await runner.cleanup()


async def test_a_providers_cookie_never_rides_on_the_next_request(provider: str) -> None:
    async with pooled_client(base_url=provider) as client:
        first = await client.post("/v1/chat/completions", json={})
        assert first.headers["set-cookie"].startswith("__cf_bm=")
        second = await client.post("/v1/chat/completions", json={})
        assert second.json() == {"cookie": None}
        assert len(client.cookies) == 0
        with pytest.raises(TypeError):
            client.cookies = {"a": "b"}
