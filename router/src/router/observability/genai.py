"""Prompts and completions in the OpenTelemetry GenAI conventions' message shape.

Only used when content capture is on (``OTEL_INSTRUMENTATION_GENAI_CAPTURE_MESSAGE_CONTENT``):
messages never reach a span otherwise.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import orjson


def input_messages(body: Mapping[str, Any]) -> str:
    """The request's input, as ``gen_ai.input.messages``."""
    messages = body.get("messages")
    if isinstance(messages, list):
        converted = [
            {"role": m.get("role"), "parts": [{"type": "text", "content": m.get("content")}]}
            for m in messages
            if isinstance(m, dict)
        ]
    else:
        source = body.get("prompt", body.get("input"))
        converted = [{"role": "user", "parts": [{"type": "text", "content": source}]}]
    return orjson.dumps(converted, default=str).decode()


def output_messages(choices: list[Any]) -> str:
    """A whole answer's choices, as ``gen_ai.output.messages``."""
    converted = []
    for choice in choices:
        if not isinstance(choice, dict):
            continue
        message = choice.get("message")
        content = message.get("content") if isinstance(message, dict) else choice.get("text")
        converted.append(
            {
                "role": "assistant",
                "parts": [{"type": "text", "content": content}],
                "finish_reason": choice.get("finish_reason"),
            }
        )
    return orjson.dumps(converted, default=str).decode()
