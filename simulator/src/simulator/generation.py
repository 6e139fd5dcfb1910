"""Deterministic "model output": token text, prompt token estimates and embeddings.

- Token ``i`` of every answer is ``" " + WORDS[i % len(WORDS)]``, so an answer of ``n``
  tokens is always the same text.
- A prompt counts ``ceil(characters / 4)`` tokens (token-id arrays count their length).
- An embedding is a unit vector derived from a hash of the input: the same input always
  gives the same vector.
"""

from __future__ import annotations

import base64
import hashlib
import math
import struct
from functools import lru_cache
from typing import Any

import orjson

WORDS: tuple[str, ...] = (
    "lorem", "ipsum", "dolor", "sit", "amet", "consectetur", "adipiscing", "elit",
    "sed", "do", "eiusmod", "tempor", "incididunt", "ut", "labore", "et",
    "dolore", "magna", "aliqua", "enim", "ad", "minim", "veniam", "quis",
    "nostrud", "exercitation", "ullamco", "laboris", "nisi", "aliquip", "ex", "ea",
)  # fmt: skip

TOKENS: tuple[str, ...] = tuple(" " + word for word in WORDS)
# Each token as a JSON string literal, ready to splice into a stream chunk.
TOKENS_JSON: tuple[bytes, ...] = tuple(orjson.dumps(token) for token in TOKENS)


def token(index: int) -> str:
    return TOKENS[index % len(TOKENS)]


def token_json(index: int) -> bytes:
    return TOKENS_JSON[index % len(TOKENS_JSON)]


@lru_cache(maxsize=1024)
def completion_text(n_tokens: int) -> str:
    """The text of an answer of ``n_tokens`` tokens."""
    return "".join(token(i) for i in range(n_tokens))


def estimate_tokens(characters: int) -> int:
    return -(-characters // 4)


def message_characters(content: Any) -> int:
    """Characters of one chat message's ``content`` (a string or a list of parts)."""
    if isinstance(content, str):
        return len(content)
    total = 0
    if isinstance(content, list):
        for part in content:
            if isinstance(part, dict):
                text = part.get("text")
                if isinstance(text, str):
                    total += len(text)
            elif isinstance(part, str):
                total += len(part)
    return total


def chat_prompt_text(messages: list[Any]) -> str:
    """The text a chat prompt's tokens are counted from (what its prefix blocks hash)."""
    parts: list[str] = []
    for message in messages:
        content = message.get("content")
        if isinstance(content, str):
            parts.append(content)
        elif isinstance(content, list):
            for part in content:
                text = part.get("text") if isinstance(part, dict) else part
                if isinstance(text, str):
                    parts.append(text)
    return "".join(parts)


def prompt_text(prompt: str | list[int]) -> str:
    """A completion prompt as text, a token id as four characters (one counted token)."""
    if isinstance(prompt, str):
        return prompt
    return "".join(f"{token_id & 0xFFFF:04x}" for token_id in prompt)


def chat_prompt_tokens(messages: list[Any]) -> int:
    chars = 0
    for message in messages:
        chars += message_characters(message.get("content"))
    return estimate_tokens(chars)


def prompt_tokens(prompt: str | list[int]) -> int:
    """Tokens of one completion/embedding input: a string or a token-id array."""
    if isinstance(prompt, str):
        return estimate_tokens(len(prompt))
    return len(prompt)


def _input_bytes(value: str | list[int]) -> bytes:
    if isinstance(value, str):
        return value.encode()
    return orjson.dumps(value)


@lru_cache(maxsize=4096)
def _embedding_cached(data: bytes, dim: int) -> tuple[float, ...]:
    raw = hashlib.shake_256(data).digest(2 * dim)
    values = [(v - 32767.5) for v in struct.unpack(f"<{dim}H", raw)]
    norm = math.sqrt(math.fsum(v * v for v in values))
    return tuple(v / norm for v in values)


def embedding(value: str | list[int], dim: int) -> tuple[float, ...]:
    """A unit vector of length ``dim`` determined by ``value``."""
    return _embedding_cached(_input_bytes(value), dim)


def embedding_base64(vector: tuple[float, ...]) -> str:
    """``vector`` as little-endian float32 bytes in base64 (``encoding_format: base64``)."""
    return base64.b64encode(struct.pack(f"<{len(vector)}f", *vector)).decode()
