"""vLLM's two union-typed inputs that need more than :mod:`simulator.validation.lax`.

- :class:`Messages`: ``list[ChatCompletionMessageParam]``, the union of OpenAI's message
  TypedDicts, vLLM's ``CustomChatCompletionMessageParam`` (any string ``role``) and
  openai-harmony's ``Message``. An object with a string ``role`` (or an ``author``)
  passes, as it does in vLLM; any other item gets pydantic's per-member errors for its
  ``role`` and for a missing ``content``, ``tool_call_id`` or ``name``. Errors in the
  content of a message that has a role are not checked (vLLM lists every member's).
- :class:`Prompt`: ``Union[list[int], list[list[int]], str, list[str]]``, completions'
  ``prompt`` and embeddings' ``input``.
"""

from __future__ import annotations

from typing import Any

from simulator.validation import lax
from simulator.validation.lax import INVALID, Errors, Int, ListOf, Loc, Str, Type, Union

# The members of vLLM's ChatCompletionMessageParam: OpenAI's message TypedDicts, each with
# its fields in declaration order (role, and what else is required), vLLM's own
# CustomChatCompletionMessageParam (any string role) and openai-harmony's Message.
_OPENAI_MESSAGES: tuple[tuple[str, str, tuple[str, ...]], ...] = (
    ("ChatCompletionDeveloperMessageParam", "developer", ("content", "role")),
    ("ChatCompletionSystemMessageParam", "system", ("content", "role")),
    ("ChatCompletionUserMessageParam", "user", ("content", "role")),
    ("ChatCompletionAssistantMessageParam", "assistant", ("role",)),
    ("ChatCompletionToolMessageParam", "tool", ("content", "role", "tool_call_id")),
    ("ChatCompletionFunctionMessageParam", "function", ("content", "name", "role")),
)


_CUSTOM_MESSAGE = "CustomChatCompletionMessageParam"
_DICT = "Input should be a valid dictionary"


def _message_errors(message: Any, loc: Loc) -> Errors:
    """pydantic's errors for a message no member of the union accepts."""
    found: Errors = []
    if message.__class__ is not dict:
        for label in (*(m[0] for m in _OPENAI_MESSAGES), _CUSTOM_MESSAGE):
            found.append(lax.error("dict_type", (*loc, label), _DICT, message))
        extract = "Input should be a valid dictionary or object to extract fields from"
        found.append(lax.error("model_attributes_type", (*loc, "Message"), extract, message))
        return found
    role = message.get("role", INVALID)
    for label, expected, required in _OPENAI_MESSAGES:
        for name in required:
            where = (*loc, label, name)
            if name == "role":
                if role is INVALID:
                    found.append(lax.missing(where, message))
                else:
                    quoted = repr(expected)
                    found.append(
                        lax.error(
                            "literal_error",
                            where,
                            f"Input should be {quoted}",
                            role,
                            {"expected": quoted},
                        )
                    )
            elif name not in message:
                found.append(lax.missing(where, message))
    custom = (*loc, _CUSTOM_MESSAGE, "role")
    if role is INVALID:
        found.append(lax.missing(custom, message))
    else:
        found.append(lax.error("string_type", custom, "Input should be a valid string", role))
    found.append(lax.missing((*loc, "Message", "author"), message))
    content = message.get("content")
    if content.__class__ is str:
        found.append(
            lax.error(
                "list_type", (*loc, "Message", "content"), "Input should be a valid list", content
            )
        )
    return found


class Messages(Type):
    """``list[ChatCompletionMessageParam]``: objects with a string ``role`` (any role) or
    openai-harmony messages (``author``)."""

    def __init__(self) -> None:
        super().__init__("list[union]")

    def check(self, value: Any, loc: Loc, errors: Errors) -> Any:
        if value.__class__ is not list:
            errors.append(lax.error("list_type", loc, "Input should be a valid list", value))
            return INVALID
        before = len(errors)
        for i, message in enumerate(value):
            if message.__class__ is dict and (
                message.get("role").__class__ is str or "author" in message
            ):
                continue
            errors.extend(_message_errors(message, (*loc, i)))
        return value if len(errors) == before else INVALID


class Prompt(Type):
    """``Union[list[int], list[list[int]], str, list[str]]`` (completions' ``prompt``,
    embeddings' ``input``). pydantic's smart union takes an exact match first, so
    ``["1"]`` stays text and ``[1.0]`` becomes tokens only when nothing matches exactly."""

    _LAX = Union(ListOf(Int()), ListOf(ListOf(Int())), Str(), ListOf(Str()))

    def __init__(self, *, nullable: bool = False) -> None:
        super().__init__("prompt", nullable=nullable)

    def check(self, value: Any, loc: Loc, errors: Errors) -> Any:
        if value.__class__ is str:
            return value
        if value.__class__ is list:
            if all(v.__class__ is int for v in value):
                return value
            if all(v.__class__ is str for v in value):
                return value
            if all(v.__class__ is list and all(t.__class__ is int for t in v) for v in value):
                return value
        return self._LAX.check(value, loc, errors)
