"""Messages API request bodies the translation's tests share: Claude Code's (captured),
a minimal one, an image and a cache_control; and ``translate``, which checks every
translated request against OpenAI's own schema."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from router.providers.messages_request import chat_request
from tests.support.openapi import schema_errors

DATA = Path(__file__).resolve().parents[2] / "router" / "tests" / "data"


def claude_code_body() -> dict[str, Any]:
    body: dict[str, Any] = json.loads((DATA / "claude_code_messages_request.json").read_text())
    body.pop("_source")
    return body


def base(**fields: Any) -> dict[str, Any]:
    return {
        "model": "alias",
        "max_tokens": 100,
        "messages": [{"role": "user", "content": "hi"}],
        **fields,
    }


def translate(body: dict[str, Any]) -> dict[str, Any]:
    out = chat_request(body)
    # Whatever the translation sends is a chat request OpenAI's own schema accepts.
    assert schema_errors("CreateChatCompletionRequest", out) == []
    return out


IMAGE = {"type": "image", "source": {"type": "base64", "media_type": "image/png", "data": "AA"}}
CACHE = {"cache_control": {"type": "ephemeral"}}
