"""The Responses API's bodies (``POST /v1/responses``), checked as OpenAI checks them.

The gateway is stateless (the stack rules keep no conversation history): ``store`` is
accepted and nothing is kept, and what would need a stored response or conversation is
refused here with a 400 that says so (``previous_response_id``, ``conversation``,
``background: true``, a stored ``prompt`` template). Every other field the pinned Codex
CLI or Agents SDK sends passes (docs/responses.md lists each field's rule); unknown fields
pass through to the router, which maps, passes or drops them per deployment.
"""

from __future__ import annotations

from typing import Any

from edge.validation.fields import (
    Check,
    array,
    bad,
    boolean,
    check_fields,
    integer,
    not_one_of,
    number,
    obj,
    string,
    wrong_type,
)
from edge.validation.openai import TOOL_CHOICES, Limits, check_model

TEXT_FORMATS = ("text", "json_schema", "json_object")
STATELESS = (
    "The gateway is stateless: it keeps no responses or conversations, so '{name}' cannot be "
    "used. Send the whole conversation as 'input' on every request."
)
# Fields that need stored state, and the value with which they need none.
_NEEDS_STATE: dict[str, bool | None] = {
    "previous_response_id": None,
    "conversation": None,
    "background": False,
    "prompt": None,
}


def _input(param: str, value: Any) -> None:
    if isinstance(value, str):
        return
    if not isinstance(value, list) or not all(isinstance(item, dict) for item in value):
        raise wrong_type(param, "one of a string or array of objects", value)


def _tool_choice(param: str, value: Any) -> None:
    if value is None or isinstance(value, dict):
        return
    if not isinstance(value, str):
        raise wrong_type(param, "one of a string or object", value)
    if value not in TOOL_CHOICES:
        raise not_one_of(param, value, TOOL_CHOICES)


def _tool(param: str, value: Any) -> None:
    obj({"type": string(nullable=False)}, required=("type",))(param, value)


def response_fields(limits: Limits) -> dict[str, Check]:
    return {
        "input": _input,
        "instructions": string(),
        "max_output_tokens": integer(16, limits.max_tokens),
        "temperature": number(0, 2),
        "top_p": number(0, 1),
        "top_logprobs": integer(0, 20),
        "stream": boolean(),
        "store": boolean(),
        "parallel_tool_calls": boolean(),
        "tools": array(_tool, may_be_empty=True),
        "tool_choice": _tool_choice,
        "text": obj(
            {
                "format": obj(
                    {"type": string(nullable=False, one_of=TEXT_FORMATS)}, required=("type",)
                ),
                "verbosity": string(one_of=("low", "medium", "high")),
            }
        ),
        "reasoning": obj({"effort": string(), "summary": string()}),
        "include": array(string(nullable=False), may_be_empty=True),
        "metadata": obj(),
        "user": string(),
        "safety_identifier": string(max_length=64),
        "prompt_cache_key": string(),
        "truncation": string(one_of=("auto", "disabled")),
    }


class ResponsesBodies:
    def __init__(self, limits: Limits) -> None:
        self.fields = response_fields(limits)

    def check(self, body: dict[str, Any]) -> None:
        check_model(body)
        for name, stateless in _NEEDS_STATE.items():
            if body.get(name, stateless) not in (stateless, None):
                raise bad(STATELESS.format(name=name), name, "unsupported_parameter")
        check_fields(body, self.fields, ("input",))
