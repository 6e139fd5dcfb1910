"""Whether an answer is a tool call, which tool it calls and with what arguments.

One rule for the three APIs the simulator serves (each API's parser reduces its request
to the offered tools, a :data:`Choice` and the last user text: the last text part of the
last message, when that message is the user's - clients such as Claude Code put
reminders naming their tools before what the user typed):

- ``tool_choice`` none, or no tools: never a call;
- a named tool (chat's ``{"function": {"name"}}``, the Responses API's ``{"name"}``,
  Messages' ``{"type": "tool", "name"}``): that tool;
- ``required`` (Messages: ``any``): the first tool the last user message names, else the
  first tool;
- ``auto`` (the default): the first tool the last user message names (as a whole word),
  else no call. A turn that ends in a tool result has no last user text, so the model
  answers in text: that is what ends a tool round trip.

The arguments follow the tool's JSON schema, deterministically (:func:`schema_value`).
"""

from __future__ import annotations

import os
import re
from typing import Any, NamedTuple

import orjson

#: "none", "auto", "required", or the name of the tool to call.
Choice = str
# Characters of a call's arguments per streamed fragment (one fragment per token).
FRAGMENT_CHARS = 8
# Nested schemas deeper than this get null: a recursive schema must not recurse forever.
_MAX_DEPTH = 8
_SIMPLE = {"string": "sim", "integer": 1, "number": 1.5, "boolean": True, "null": None}


class Tool(NamedTuple):
    name: str
    parameters: Any  # its JSON schema (anything: a bad schema gets an empty object)


class ToolCall(NamedTuple):
    """The call an answer makes: ``arguments`` is JSON text, streamed as ``fragments``;
    ``named``: the request's ``tool_choice`` named the tool."""

    name: str
    arguments: str
    fragments: tuple[str, ...]
    named: bool


def call_id(prefix: str) -> str:
    return prefix + os.urandom(12).hex()


def schema_value(schema: Any, depth: int = 0) -> Any:
    """A value that fits ``schema``: its ``const``, first ``enum`` value, ``default`` or
    first example; else by ``type``: ``"sim"``, ``1``, ``1.5``, ``true``, ``null``, an
    array of one item, an object with every property."""
    if not isinstance(schema, dict) or depth > _MAX_DEPTH:
        return None
    for key in ("const", "default"):
        if key in schema:
            return schema[key]
    for key in ("enum", "examples"):
        if isinstance(schema.get(key), list) and schema[key]:
            return schema[key][0]
    for key in ("anyOf", "oneOf", "allOf"):
        if isinstance(schema.get(key), list) and schema[key]:
            return schema_value(schema[key][0], depth + 1)
    kind = schema.get("type")
    if isinstance(kind, list):
        kind = next((k for k in kind if k != "null"), "null")
    if kind == "array":
        return [schema_value(schema.get("items"), depth + 1)]
    if kind == "object" or "properties" in schema:
        properties = schema.get("properties")
        if not isinstance(properties, dict):
            return {}
        return {name: schema_value(sub, depth + 1) for name, sub in properties.items()}
    return _SIMPLE.get(kind) if isinstance(kind, str) else None


def _named_in(text: str, tools: list[Tool]) -> Tool | None:
    return next((t for t in tools if re.search(rf"\b{re.escape(t.name)}\b", text)), None)


def planned_call(tools: list[Tool], choice: Choice, last_user_text: str | None) -> ToolCall | None:
    """The tool call the answer makes, or None for a text answer (module docstring)."""
    if not tools or choice == "none":
        return None
    tool: Tool | None
    if choice == "auto":
        tool = _named_in(last_user_text, tools) if last_user_text else None
    elif choice == "required":
        tool = (_named_in(last_user_text, tools) if last_user_text else None) or tools[0]
    else:
        tool = next((t for t in tools if t.name == choice), None)
    if tool is None:
        return None
    arguments = schema_value(tool.parameters)
    text = orjson.dumps(arguments if isinstance(arguments, dict) else {}).decode()
    fragments = tuple(text[i : i + FRAGMENT_CHARS] for i in range(0, len(text), FRAGMENT_CHARS))
    return ToolCall(tool.name, text, fragments, named=choice not in ("auto", "required"))
