"""Catalog ``provider`` value -> adapter class. Explicit: a new adapter is added here."""

from __future__ import annotations

from router.providers.anthropic import Anthropic
from router.providers.base import Provider
from router.providers.openai_compatible import VLLM, OpenAI

ADAPTERS: dict[str, type[Provider]] = {
    OpenAI.type: OpenAI,
    VLLM.type: VLLM,
    Anthropic.type: Anthropic,
}
