"""Estimating tokens before (or without) a provider's count.

The estimate is characters / 4, rounded up, over the text a request carries - OpenAI's
own rule of thumb for English. Policy reserves it before a call and reconciles with the
provider's real usage afterwards, so its error only matters while a request is in flight
or when a provider never reports usage (a cut stream). How far it can be off: docs/policy.md.
"""

from __future__ import annotations

from typing import Any

CHARS_PER_TOKEN = 4
# Each chat message costs a few tokens of framing beyond its text.
MESSAGE_OVERHEAD = 4


def _text_chars(value: Any) -> int:
    if isinstance(value, str):
        return len(value)
    if isinstance(value, list):
        return sum(_text_chars(item) for item in value)
    if isinstance(value, dict):
        # Content parts ({"type": "text", "text": ...}); images etc. are not counted.
        text = value.get("text")
        return len(text) if isinstance(text, str) else 0
    if isinstance(value, int):
        return CHARS_PER_TOKEN  # a token id in a pre-tokenized prompt
    return 0


def estimate_prompt_tokens(body: dict[str, Any]) -> int:
    messages = body.get("messages")
    if isinstance(messages, list):
        chars = sum(_text_chars(m.get("content")) for m in messages if isinstance(m, dict))
        return -(-chars // CHARS_PER_TOKEN) + MESSAGE_OVERHEAD * len(messages)
    source = body.get("prompt", body.get("input", ""))
    return max(1, -(-_text_chars(source) // CHARS_PER_TOKEN))
