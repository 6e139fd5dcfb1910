"""A request's prefix key: a hash of the start of its prompt, the same on every router.

The start of a prompt - instructions, system prompt, first turns - is what an engine's
prefix cache can reuse, so requests that share it are best sent to the same engine. The
key covers the first ``PREFIX_CHARS`` characters of the prompt's text in every API's
fields (about 16 KV blocks of 16 tokens, at 4 characters a token): long enough to tell
system prompts apart, short enough that every turn of a conversation shares it.
"""

from __future__ import annotations

import hashlib
from typing import Any

from gateway_shared.bodies import texts

PREFIX_CHARS = 1024


# Where a message, part or item holds the text an engine's prefix cache sees.
_TEXT_KEYS = ("text", "content", "input_text")


def prefix_key(body: dict[str, Any]) -> int | None:
    """The prefix key of a request body (any public API); None when it has no text."""
    parts: list[str] = []
    size = 0
    for field in ("instructions", "system", "messages", "input", "prompt"):
        for text in texts(body.get(field), _TEXT_KEYS):
            parts.append(text[: PREFIX_CHARS - size])
            size += len(parts[-1])
            if size >= PREFIX_CHARS:
                break
        if size >= PREFIX_CHARS:
            break
    if not size:
        return None
    digest = hashlib.blake2b("".join(parts).encode(), digest_size=8).digest()
    return int.from_bytes(digest, "big")
