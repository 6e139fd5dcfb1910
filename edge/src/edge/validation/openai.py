"""The OpenAI routes' bodies: chat completions, completions and embeddings.

Every field the gateway knows is checked for type and range as OpenAI's API checks it
(its OpenAPI description, ``schemas/openai/openapi.yaml``); the ``Limits`` an operator
sets narrow some ranges further. Unknown fields pass through to the provider untouched:
providers have fields of their own (vLLM's ``top_k``, ``guided_json``...).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from edge.validation.fields import (
    Check,
    array,
    array_length,
    bad,
    boolean,
    check_fields,
    integer,
    is_int,
    missing,
    not_one_of,
    number,
    obj,
    string,
    string_or_strings,
    wrong_type,
)
from gateway_shared.wire.identity import Api

INT64 = 2**63 - 1
ROLES = ("system", "assistant", "user", "function", "tool", "developer")
TOOL_CHOICES = ("none", "auto", "required")
RESPONSE_FORMATS = ("text", "json_object", "json_schema")


@dataclass(frozen=True, slots=True)
class Limits:
    """Bounds an operator sets on what one request may ask for (``EDGE_*``)."""

    max_depth: int = 32
    max_messages: int = 2048
    max_n: int = 128
    max_tokens: int = 1_000_000


def _role(param: str, value: Any) -> None:
    if not isinstance(value, str):
        raise wrong_type(param, "a string", value)
    if value not in ROLES:
        raise not_one_of(param, value, ROLES)


def _content(param: str, value: Any) -> None:
    if value is None or isinstance(value, str):
        return
    if not isinstance(value, list) or not all(isinstance(part, dict) for part in value):
        raise wrong_type(param, "one of a string or array of objects", value)


def _message(param: str, value: Any) -> None:
    if not isinstance(value, dict):
        raise wrong_type(param, "an object", value)
    if "role" not in value:
        raise missing(f"{param}.role")
    _role(f"{param}.role", value["role"])
    if "content" in value:
        _content(f"{param}.content", value["content"])


def _tool_choice(param: str, value: Any) -> None:
    if value is None or isinstance(value, dict):
        return
    if not isinstance(value, str):
        raise wrong_type(param, "one of a string or object", value)
    if value not in TOOL_CHOICES:
        raise not_one_of(param, value, TOOL_CHOICES)


def _token_input(param: str, value: Any) -> None:
    """A prompt or embedding input: a string, an array of strings, a token array, or an
    array of token arrays."""
    if isinstance(value, str):
        return
    expected = "one of a string, array of strings, array of integers or array of arrays"
    if not isinstance(value, list):
        raise wrong_type(param, expected, value)
    array_length(param, value, None)
    if all(is_int(v) for v in value) or all(isinstance(v, str) for v in value):
        return
    for i, item in enumerate(value):
        if not (isinstance(item, list) and item and all(is_int(v) for v in item)):
            raise wrong_type(f"{param}[{i}]", "one of a string or array of integers", item)


def _logit_bias(param: str, value: Any) -> None:
    if value is None:
        return
    if not isinstance(value, dict):
        raise wrong_type(param, "an object", value)
    check = integer(-100, 100)
    for token, bias in value.items():
        check(f"{param}.{token}", bias)


def _tool(param: str, value: Any) -> None:
    obj({"type": string(nullable=False), "function": obj(required=("name",))}, required=("type",))(
        param, value
    )
    if value["type"] == "function" and "function" not in value:
        raise missing(f"{param}.function")


def _sampling(limits: Limits) -> dict[str, Check]:
    """What chat completions and completions share."""
    return {
        "temperature": number(0, 2),
        "top_p": number(0, 1),
        "presence_penalty": number(-2, 2),
        "frequency_penalty": number(-2, 2),
        "n": integer(1, limits.max_n),
        "seed": integer(-INT64 - 1, INT64),
        "stop": string_or_strings(4),
        "stream": boolean(),
        "stream_options": obj({"include_usage": boolean(), "include_obfuscation": boolean()}),
        "logit_bias": _logit_bias,
        "user": string(nullable=False),
    }


def chat_fields(limits: Limits) -> dict[str, Check]:
    return {
        **_sampling(limits),
        "messages": array(_message, max_items=limits.max_messages),
        "max_tokens": integer(1, limits.max_tokens),
        "max_completion_tokens": integer(1, limits.max_tokens),
        "logprobs": boolean(),
        "top_logprobs": integer(0, 20),
        "tools": array(_tool, max_items=128),
        "tool_choice": _tool_choice,
        "parallel_tool_calls": boolean(nullable=False),
        "response_format": obj(
            {"type": string(nullable=False, one_of=RESPONSE_FORMATS)}, required=("type",)
        ),
        "metadata": obj(),
        "store": boolean(),
        "reasoning_effort": string(),
        "service_tier": string(),
        "verbosity": string(),
        "modalities": array(string(nullable=False)),
        "prompt_cache_key": string(),
        "safety_identifier": string(max_length=64),
    }


def completion_fields(limits: Limits) -> dict[str, Check]:
    return {
        **_sampling(limits),
        "prompt": _token_input,
        "max_tokens": integer(0, limits.max_tokens),
        "logprobs": integer(0, 5),
        "best_of": integer(0, 20),
        "echo": boolean(),
        "suffix": string(),
    }


def embedding_fields() -> dict[str, Check]:
    return {
        "input": _token_input,
        "encoding_format": string(nullable=False, one_of=("float", "base64")),
        "dimensions": integer(1),
        "user": string(nullable=False),
    }


REQUIRED = {Api.CHAT: ("messages",), Api.COMPLETIONS: ("prompt",), Api.EMBEDDINGS: ("input",)}


def check_model(body: dict[str, Any]) -> None:
    model = body.get("model")
    if model is None:
        raise bad("you must provide a model parameter", "model", "missing_required_parameter")
    if not isinstance(model, str) or not model:
        raise wrong_type("model", "a non-empty string", model)


class OpenAIBodies:
    """The field checks of each OpenAI route, built once for the operator's limits."""

    def __init__(self, limits: Limits) -> None:
        self.fields = {
            Api.CHAT: chat_fields(limits),
            Api.COMPLETIONS: completion_fields(limits),
            Api.EMBEDDINGS: embedding_fields(),
        }

    def check(self, api: Api, body: dict[str, Any]) -> None:
        check_model(body)
        check_fields(body, self.fields[api], REQUIRED[api])
        if api is Api.EMBEDDINGS:
            return
        if body.get("stream_options") is not None and body.get("stream") is not True:
            raise bad(
                "The 'stream_options' parameter is only allowed when 'stream' is enabled.",
                "stream_options",
                None,
            )
        if api is Api.CHAT and body.get("top_logprobs") is not None and not body.get("logprobs"):
            raise bad(
                "The 'top_logprobs' parameter is only allowed when 'logprobs' is enabled.",
                "top_logprobs",
                None,
            )
