"""Deterministic "model output": token text, prompt token estimates and embeddings.

- Token ``i`` of every answer is ``" " + WORDS[i % len(WORDS)]``, so an answer of ``n``
  tokens is always the same text.
- An answer (:func:`plan`) is, in this order: reasoning (when the request asks for it,
  :data:`REASONING` token by token), then either text or one tool call
  (:mod:`simulator.tools`).
- A prompt counts ``ceil(characters / 4)`` tokens (token-id arrays count their length);
  its characters are those of its texts, plus the offered tools' JSON (a chat template
  renders the tools into the prompt).
- An embedding is a unit vector derived from a hash of the input: the same input always
  gives the same vector.
"""

from __future__ import annotations

import base64
import hashlib
import math
import struct
from functools import lru_cache
from typing import Any, NamedTuple

import orjson

from gateway_shared.bodies import texts
from simulator.tools import ToolCall

WORDS: tuple[str, ...] = (
    "lorem", "ipsum", "dolor", "sit", "amet", "consectetur", "adipiscing", "elit",
    "sed", "do", "eiusmod", "tempor", "incididunt", "ut", "labore", "et",
    "dolore", "magna", "aliqua", "enim", "ad", "minim", "veniam", "quis",
    "nostrud", "exercitation", "ullamco", "laboris", "nisi", "aliquip", "ex", "ea",
)  # fmt: skip

TOKENS: tuple[str, ...] = tuple(" " + word for word in WORDS)
# Each token as a JSON string literal, ready to splice into a stream chunk.
TOKENS_JSON: tuple[bytes, ...] = tuple(orjson.dumps(token) for token in TOKENS)


REASONING: tuple[str, ...] = (" Thinking", " it", " over", " before", " answering", ".")
REASONING_JSON: tuple[bytes, ...] = tuple(orjson.dumps(token) for token in REASONING)


class Answer(NamedTuple):
    """What one choice of an answer holds, decided before it is rendered."""

    reasoning_tokens: int
    text_tokens: int  # 0 for a tool call
    call: ToolCall | None
    finish_reason: str
    # Prompt tokens found in the prefix cache (known once the prompt was looked up).
    cached_tokens: int = 0

    @property
    def tokens(self) -> int:
        """Output tokens: reasoning, then text, or the call's name and argument fragments."""
        body = 1 + len(self.call.fragments) if self.call else self.text_tokens
        return self.reasoning_tokens + body

    @property
    def reasoning_text(self) -> str:
        return "".join(REASONING[: self.reasoning_tokens])

    @property
    def text(self) -> str:
        return completion_text(self.text_tokens)


def plan(
    output_tokens: int, max_tokens: int | None, *, reasoning: bool, call: ToolCall | None
) -> Answer:
    """The answer to a request: ``output_tokens`` of text (after the reasoning) unless
    ``max_tokens`` cuts it (``length``). A tool call is never cut; it finishes with
    ``tool_calls`` (``stop`` when the request named the tool, as vLLM answers)."""
    thinking = len(REASONING) if reasoning else 0
    if call is not None:
        return Answer(thinking, 0, call, "stop" if call.named else "tool_calls")
    wanted = thinking + output_tokens
    if max_tokens is not None and max_tokens < wanted:
        thinking = min(thinking, max_tokens)
        return Answer(thinking, max_tokens - thinking, None, "length")
    return Answer(thinking, output_tokens, None, "stop")


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


# The keys under which a message, content part, item or block holds text a model reads.
_TEXT_KEYS = ("text", "content", "output", "arguments", "thinking")


def text_characters(value: Any) -> int:
    """Characters of the text in a chat ``content`` (a string or parts), a Responses
    input or a Messages content: strings, and the text keys of objects, nested."""
    if isinstance(value, str):
        return len(value)
    if isinstance(value, list):
        return sum(text_characters(item) for item in value)
    if isinstance(value, dict):
        return sum(text_characters(value[key]) for key in _TEXT_KEYS if key in value)
    return 0


def last_text(content: Any) -> str:
    """The text of a content's last text part or block (a string content is one): what a
    client's user typed, after the reminders and context some clients put before it."""
    if isinstance(content, str):
        return content
    if not isinstance(content, list):
        return ""
    texts = [p["text"] for p in content if isinstance(p, dict) and isinstance(p.get("text"), str)]
    return texts[-1] if texts else ""


def chat_prompt_text(messages: list[Any]) -> str:
    """The text a chat prompt's tokens are counted from (what its prefix blocks hash)."""
    return "".join(text for m in messages for text in texts(m.get("content"), _TEXT_KEYS))


def prompt_text(prompt: str | list[int]) -> str:
    """A completion prompt as text, a token id as four characters (one counted token)."""
    if isinstance(prompt, str):
        return prompt
    return "".join(f"{token_id & 0xFFFF:04x}" for token_id in prompt)


def tools_characters(tools: Any) -> int:
    return len(orjson.dumps(tools)) if tools else 0


def chat_prompt_tokens(messages: list[Any], tools: Any = None) -> int:
    characters = tools_characters(tools)
    for message in messages:
        content = message.get("content")
        # Most contents are strings: counted without a call.
        characters += len(content) if isinstance(content, str) else text_characters(content)
    return estimate_tokens(characters)


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
