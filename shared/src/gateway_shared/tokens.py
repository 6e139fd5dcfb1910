"""Estimating tokens before (or without) a provider's count.

The estimate is characters / 4, rounded up, over the text a request carries - OpenAI's
own rule of thumb for English. Policy reserves it before a call and reconciles with the
provider's real usage afterwards, so its error only matters while a request is in flight
or when a provider never reports usage (a cut stream). How far it can be off: docs/policy.md.
"""

from __future__ import annotations

from typing import Any

import orjson

CHARS_PER_TOKEN = 4
# Each chat message costs a few tokens of framing beyond its text.
MESSAGE_OVERHEAD = 4


# The keys under which a request's parts hold text the model reads: content parts, tool
# calls' arguments and outputs in any of the APIs served. Images and files are not counted.
_TEXT_KEYS = (
    "text", "content", "arguments", "output", "input", "thinking", "tool_calls", "function",
)  # fmt: skip


def _text_chars(value: Any) -> int:
    if isinstance(value, str):
        return len(value)
    if isinstance(value, list):
        return sum(_text_chars(item) for item in value)
    if isinstance(value, dict):
        if value.get("type") in ("image", "image_url", "input_image", "input_file"):
            return 0
        return sum(_text_chars(value[k]) for k in _TEXT_KEYS if k in value)
    if isinstance(value, int) and not isinstance(value, bool):
        return CHARS_PER_TOKEN  # a token id in a pre-tokenized prompt
    return 0


def tokens_of_chars(chars: int) -> int:
    """The estimate for ``chars`` characters of text (rounded up)."""
    return -(-chars // CHARS_PER_TOKEN)


def estimate_prompt_tokens(body: dict[str, Any]) -> int:
    """Input tokens of a chat, completions, embeddings, Responses or Messages request:
    its messages or input items (each with a few tokens of framing), its instructions or
    system prompt, and its tool definitions."""
    chars = _text_chars(body.get("instructions")) + _text_chars(body.get("system"))
    tools = body.get("tools")
    if isinstance(tools, list) and tools:
        chars += len(orjson.dumps(tools))
    items = body.get("messages", body.get("input"))
    if isinstance(items, list) and items and all(isinstance(i, dict) for i in items):
        chars += sum(_text_chars(i) for i in items)
        return tokens_of_chars(chars) + MESSAGE_OVERHEAD * len(items)
    source = body.get("prompt", items if items is not None else "")
    return max(1, tokens_of_chars(chars + _text_chars(source)))
