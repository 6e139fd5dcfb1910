"""The Messages API's input token estimate (``router.providers.messages_tokens``)."""

from __future__ import annotations

from typing import Any

import orjson
import pytest

from gateway_shared.tokens import CHARS_PER_TOKEN, MESSAGE_OVERHEAD
from router.providers.messages_tokens import (
    IMAGE_TOKENS,
    TOOL_OVERHEAD,
    TOOLS_OVERHEAD,
    count_input_tokens,
)
from tests.support.messages_bodies import CACHE, IMAGE, claude_code_body


def tokens(chars: int) -> int:
    return -(-chars // CHARS_PER_TOKEN)


@pytest.mark.parametrize(
    ("body", "expected"),
    [
        pytest.param(
            {"messages": [{"role": "user", "content": "a" * 400}]},
            100 + MESSAGE_OVERHEAD,
            id="text",
        ),
        pytest.param(
            {
                "system": [{"type": "text", "text": "s" * 40, **CACHE}],
                "messages": [{"role": "user", "content": "foo"}],
            },
            tokens(43) + 2 * MESSAGE_OVERHEAD,
            id="system blocks",
        ),
        pytest.param(
            {"messages": [{"role": "user", "content": "漢字かな" * 10}]},
            tokens(120) + MESSAGE_OVERHEAD,
            id="CJK counts three a character",
        ),
        pytest.param(
            {"messages": [{"role": "user", "content": [IMAGE, {"type": "text", "text": "abcd"}]}]},
            IMAGE_TOKENS + 1 + MESSAGE_OVERHEAD,
            id="images flat",
        ),
        pytest.param(
            {
                "messages": [
                    {
                        "role": "assistant",
                        "content": [
                            {"type": "thinking", "thinking": "t" * 400, "signature": "s"},
                            {"type": "tool_use", "id": "i", "name": "n", "input": {"k": "v"}},
                        ],
                    },
                    {
                        "role": "user",
                        "content": [
                            {"type": "tool_result", "tool_use_id": "i", "content": "r" * 8}
                        ],
                    },
                ]
            },
            tokens(len('["i","n",{"k":"v"}]') + 8 + len('["i"]')) + 4 * MESSAGE_OVERHEAD,
            id="tool use and result, thinking not counted",
        ),
        pytest.param(
            {
                "messages": [{"role": "user", "content": "foo"}],
                "tools": [{"name": "n", "description": "dddd", "input_schema": {"type": "object"}}],
            },
            tokens(3 + 1 + 4 + len('{"type":"object"}'))
            + MESSAGE_OVERHEAD
            + TOOLS_OVERHEAD
            + TOOL_OVERHEAD,
            id="tools",
        ),
        pytest.param({"messages": [], "tools": []}, 1, id="empty, as /context sends tools"),
    ],
)
def test_count_input_tokens(body: dict[str, Any], expected: int) -> None:
    assert count_input_tokens(body) == expected


def test_count_of_the_claude_code_request() -> None:
    body = claude_code_body()
    text = sum(len(b["text"]) for b in body["system"]) + sum(
        len(m["content"])
        if isinstance(m["content"], str)
        else sum(len(b["text"]) for b in m["content"])
        for m in body["messages"]
    )
    tool_text = sum(
        len(t["name"]) + len(t["description"]) + len(orjson.dumps(t["input_schema"]).decode())
        for t in body["tools"]
    )
    framing = MESSAGE_OVERHEAD * 3 + TOOLS_OVERHEAD + TOOL_OVERHEAD * 24
    # Mostly ASCII, with a few typographic characters below U+2E80 (one unit each).
    assert count_input_tokens(body) == tokens(text + tool_text) + framing
