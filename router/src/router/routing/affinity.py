"""A request's prefix: a hash of the start of its prompt, the same on every router, and
the prompt's size.

The start of a prompt - instructions, system prompt, first turns - is what an engine's
prefix cache can reuse, so requests that share it are best sent to the same engine. The
key covers the first ``PREFIX_CHARS`` characters of the prompt's text in every API's
fields (about 16 KV blocks of 16 tokens, at 4 characters a token): long enough to tell
system prompts apart, short enough that every turn of a conversation shares it. The
size, estimated from all of the prompt's text, is what the request leaves in the
engine's cache (``routing/residency.py``).
"""

from __future__ import annotations

import hashlib
from typing import Any, NamedTuple

from gateway_shared.bodies import texts
from gateway_shared.tokens import tokens_of_chars

PREFIX_CHARS = 1024


# Where a message, part or item holds the text an engine's prefix cache sees.
_TEXT_KEYS = ("text", "content", "input_text")


class Prefix(NamedTuple):
    key: int
    # The whole prompt's estimated tokens.
    tokens: int


def prefix_key(body: dict[str, Any]) -> Prefix | None:
    """The prefix of a request body (any public API); None when it has no text."""
    parts: list[str] = []
    size = 0
    for field in ("instructions", "system", "messages", "input", "prompt"):
        for text in texts(body.get(field), _TEXT_KEYS):
            if size < PREFIX_CHARS:
                parts.append(text[: PREFIX_CHARS - size])
            size += len(text)
    if not size:
        return None
    digest = hashlib.blake2b("".join(parts).encode(), digest_size=8).digest()
    return Prefix(int.from_bytes(digest, "big"), tokens_of_chars(size))
