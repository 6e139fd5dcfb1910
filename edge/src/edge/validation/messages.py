"""Anthropic's Messages API bodies (``POST /v1/messages``, ``/v1/messages/count_tokens``),
checked for what the gateway relies on and what Anthropic itself refuses.

What Claude Code and the Anthropic SDKs send is never refused for its shape: system
prompts as a string or blocks (with ``cache_control``), ``role: "system"`` entries inside
``messages`` (Claude Code's mid-conversation system prompt), ``thinking``,
``output_config``, ``context_management``, ``metadata.user_id`` as a string, server
tools. Unknown fields pass through to the router, which maps, passes or drops them per
deployment (docs/messages.md).
"""

from __future__ import annotations

from typing import Any

from edge.validation.fields import (
    Check,
    array,
    boolean,
    check_fields,
    integer,
    missing,
    not_one_of,
    number,
    obj,
    string,
    wrong_type,
)
from edge.validation.openai import Limits, check_model

ROLES = ("user", "assistant", "system")


def _system(param: str, value: Any) -> None:
    if value is None or isinstance(value, str):
        return
    if not isinstance(value, list) or not all(isinstance(block, dict) for block in value):
        raise wrong_type(param, "one of a string or array of text blocks", value)


def _message(param: str, value: Any) -> None:
    if not isinstance(value, dict):
        raise wrong_type(param, "an object", value)
    for name in ("role", "content"):
        if name not in value:
            raise missing(f"{param}.{name}")
    role = value["role"]
    if not isinstance(role, str):
        raise wrong_type(f"{param}.role", "a string", role)
    if role not in ROLES:
        raise not_one_of(f"{param}.role", role, ROLES)
    _system(f"{param}.content", value["content"])


def _tool(param: str, value: Any) -> None:
    obj({"name": string(nullable=False)}, required=("name",))(param, value)


def message_fields(limits: Limits, *, counting: bool) -> dict[str, Check]:
    fields: dict[str, Check] = {
        "messages": array(_message, max_items=limits.max_messages),
        "system": _system,
        "tools": _tools(),
        "tool_choice": obj({"type": string(nullable=False)}, required=("type",)),
        "thinking": obj({"type": string(nullable=False)}),
    }
    if not counting:
        fields |= {
            "max_tokens": integer(1, limits.max_tokens),
            "stream": boolean(),
            "temperature": number(0, 1),
            "top_p": number(0, 1),
            "top_k": integer(0),
            "stop_sequences": array(string(nullable=False), may_be_empty=True),
            "metadata": obj({"user_id": string()}),
        }
    return fields


def _tools() -> Check:
    check = array(_tool, may_be_empty=True)

    def tools(param: str, value: Any) -> None:
        if value != []:  # count_tokens often sends an empty list
            check(param, value)

    return tools


class MessagesBodies:
    def __init__(self, limits: Limits) -> None:
        self.fields = message_fields(limits, counting=False)
        self.counting = message_fields(limits, counting=True)

    def check(self, body: dict[str, Any], *, counting: bool) -> None:
        check_model(body)
        required = ("messages",) if counting else ("messages", "max_tokens")
        check_fields(body, self.counting if counting else self.fields, required)
