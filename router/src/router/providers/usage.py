"""Reading usage from OpenAI-shaped payloads: chat answers and chunks, and the Responses
API's ``response`` objects, each with its own field names for the same counts."""

from __future__ import annotations

from typing import Any

from router.providers.base import Usage


def _detail(usage: dict[str, Any], details: str, name: str) -> int:
    value = (usage.get(details) or {}).get(name) if isinstance(usage.get(details), dict) else None
    return value if isinstance(value, int) else 0


def usage_from(payload: Any) -> Usage | None:
    """The usage of an OpenAI answer, chunk or Responses object (either API's names)."""
    usage = payload.get("usage") if isinstance(payload, dict) else None
    if not isinstance(usage, dict):
        return None
    if "input_tokens" in usage:  # the Responses API
        prompt, completion = usage.get("input_tokens"), usage.get("output_tokens", 0)
        cached = _detail(usage, "input_tokens_details", "cached_tokens")
        reasoning = _detail(usage, "output_tokens_details", "reasoning_tokens")
    else:
        prompt, completion = usage.get("prompt_tokens"), usage.get("completion_tokens", 0)
        cached = _detail(usage, "prompt_tokens_details", "cached_tokens")
        reasoning = _detail(usage, "completion_tokens_details", "reasoning_tokens")
    if not isinstance(prompt, int) or not isinstance(completion, int):
        return None
    return Usage(prompt, completion, cached_tokens=cached, reasoning_tokens=reasoning)
