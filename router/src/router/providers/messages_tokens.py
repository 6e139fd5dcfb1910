"""The input token estimate for an Anthropic Messages API request, for ``count_tokens``.

``count_input_tokens``: the estimate for ``count_tokens``; its rules and how far it can
be off are in its docstring.
"""

from __future__ import annotations

import re
from typing import Any

import orjson

from gateway_shared.tokens import MESSAGE_OVERHEAD, tokens_of_chars
from router.providers.messages_answer import text_of
from router.providers.messages_request import as_object

# Characters from U+2E80 on (CJK, kana, Hangul, emoji...) count three: one or two of them
# make a token, where four Latin characters do.
_WIDE = re.compile(r"[\u2e80-\U0010ffff]")
WIDE_WEIGHT = 3
# An image: Anthropic's count for one scaled to its ~1.15 megapixel limit (w * h / 750).
IMAGE_TOKENS = 1600
# A base64 PDF: decoded bytes per token, a loose guess (text PDFs run ~2,000 tokens a page).
PDF_BYTES_PER_TOKEN = 16
# Tools: the framing chat templates put around a tool list (Qwen2.5's, Llama 3.1's
# instructions run ~100 tokens) and around each tool's JSON.
TOOLS_OVERHEAD = 100
TOOL_OVERHEAD = 15


def _units(text: str) -> int:
    if text.isascii():
        return len(text)
    return len(text) + (WIDE_WEIGHT - 1) * len(_WIDE.findall(text))


def _json_units(value: Any) -> int:
    return _units(orjson.dumps(value).decode())


def _content_cost(content: Any) -> tuple[int, int]:
    """Character units and flat tokens of a content value (string or blocks)."""
    if isinstance(content, str):
        return _units(content), 0
    units = tokens = 0
    for block in content if isinstance(content, list) else []:
        kind = block.get("type") if isinstance(block, dict) else None
        if not isinstance(block, dict) or kind in ("thinking", "redacted_thinking"):
            continue  # earlier turns' thinking is not counted (Anthropic's rule)
        source = as_object(block.get("source"))
        if kind == "text":
            units += _units(text_of([block]))
        elif kind == "image":
            tokens += IMAGE_TOKENS
        elif kind == "tool_use":
            units += _json_units([block.get("id"), block.get("name"), block.get("input")])
            tokens += MESSAGE_OVERHEAD
        elif kind in ("tool_result", "search_result"):
            inner_units, inner_tokens = _content_cost(block.get("content") or "")
            head = [block.get(k) for k in ("tool_use_id", "title", "source") if k in block]
            units += inner_units + _json_units(head)
            tokens += inner_tokens + MESSAGE_OVERHEAD
        elif kind == "document" and source.get("type") == "base64":
            data = source.get("data")
            tokens += (len(data) * 3 // 4) // PDF_BYTES_PER_TOKEN if isinstance(data, str) else 0
        elif kind == "document" and source.get("type") in ("text", "content"):
            inner = source.get("data") if source.get("type") == "text" else source.get("content")
            inner_units, inner_tokens = _content_cost(inner or "")
            units += inner_units + _units(str(block.get("title") or ""))
            tokens += inner_tokens
        else:  # server tool blocks, URL or file documents: their JSON stands in
            units += _json_units(block)
    return units, tokens


def count_input_tokens(body: dict[str, Any]) -> int:
    """The estimate for count_tokens when no tokenizer endpoint is available: the text of
    system, messages (all block kinds: text, tool_use input JSON, tool_result content), and
    tools (name, description, input_schema JSON), with per-message and per-tool framing
    overheads.

    The rule is :mod:`gateway_shared.tokens`' (characters / 4, ``MESSAGE_OVERHEAD`` per
    message, tool calls and results each counting as one), extended: a character from
    U+2E80 on (CJK, kana, Hangul, emoji) counts as 3; JSON (tool inputs, schemas) is
    counted compact; an image is 1,600 tokens, a base64 PDF its decoded bytes / 16, a
    tool list 100 tokens plus 15 per tool; thinking blocks in history are not counted.

    How far it is off, text alone (framing aside), measured offline against four real
    tokenizers - OpenAI's cl100k and o200k, Llama 3's and Qwen3's (the ``quicktok-v1``
    package embeds their vocabularies; its cl100k counts equal ``bpe-openai``'s) - as
    estimate / real - 1:

    - Claude Code's whole request (73k characters of English prompt, tool descriptions
      and JSON schemas): +8..+9%. English prose and Markdown, compact JSON, Python source:
      +6..+11% (these run 4.2-4.4 characters a token).
    - Indented JSON -4..-7%; shell output (paths, columns, digits) -26..-36%.
    - German, French -2..-16%; Russian -7..-32%.
    - Chinese, Japanese -44..+5% (Qwen3 -15..+5%), where characters / 4 alone would be
      -50..-68%; Korean -20..+41%; emoji -17..-41%.
    - Hindi, Thai, Arabic -10..-75%: the worst (Hindi on cl100k and Qwen3) counts a
      quarter of the real tokens.

    Not measured, as no tokenizer for it installs offline: Claude's own, reported to need
    more tokens than these for the same text (the estimate would run lower against it).
    Images, PDFs and the framing constants are guesses: an image really costs from under
    100 to ~1,600 tokens, a PDF page 1,500 to 3,000 plus its image, and each chat
    template frames messages and tools its own way.
    """
    units = tokens = 0
    system = body.get("system")
    if system:
        inner_units, inner_tokens = _content_cost(system)
        units, tokens = inner_units, inner_tokens + MESSAGE_OVERHEAD
    messages = body.get("messages")
    for message in messages if isinstance(messages, list) else []:
        if isinstance(message, dict):
            inner_units, inner_tokens = _content_cost(message.get("content"))
            units += inner_units
            tokens += inner_tokens + MESSAGE_OVERHEAD
    tools = body.get("tools")
    if isinstance(tools, list) and tools:
        tokens += TOOLS_OVERHEAD
        for tool in tools:
            if not isinstance(tool, dict):
                continue
            tokens += TOOL_OVERHEAD
            if tool.get("type") in (None, "custom"):
                units += _units(str(tool.get("name") or "")) + _units(
                    str(tool.get("description") or "")
                )
                units += _json_units(tool.get("input_schema") or {})
            else:
                units += _json_units(tool)
    return max(1, tokens_of_chars(units) + tokens)
