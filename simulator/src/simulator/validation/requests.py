"""vLLM v0.11.0's request models for chat, completions and embeddings, as tables.

Each endpoint's fields are listed in the order ``vllm/entrypoints/openai/protocol.py``
declares them, with the type pydantic checks (:mod:`simulator.validation.lax`); a body is
checked as pydantic checks it:

1. the model's ``before`` validators (:mod:`simulator.validation.validators`). The first
   ``ValueError`` ends validation with a single ``value_error`` at ``('body',)``; any
   other exception (``"5" < 0``, ``5.get``) escapes pydantic, which vLLM answers with a
   plain-text 500.
2. every field present, then the missing required ones: all errors together, in field
   order. Unknown fields are ignored (vLLM's ``extra="allow"``).

Embeddings take ``Union[EmbeddingCompletionRequest, EmbeddingChatRequest]``: a body that
fits neither gets both members' errors, each under pydantic's label for a vLLM model.

What is not reproduced exactly: errors inside messages (:mod:`simulator.validation.messages`);
``structured_outputs`` gets its fields' type checks but not its ``__post_init__`` (several
constraints at once).
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from simulator.validation import lax
from simulator.validation.errors import VLLMError, internal_error, request_invalid
from simulator.validation.lax import (
    VLLM_MODEL,
    AnyValue,
    Bool,
    Bytes,
    DictOf,
    Errors,
    Float,
    Int,
    ListOf,
    Literal,
    Loc,
    Model,
    Str,
    Type,
    Union,
)
from simulator.validation.messages import Messages, Prompt
from simulator.validation.validators import (
    CHAT_VALIDATORS,
    COMPLETION_VALIDATORS,
    EMBEDDING_CHAT_VALIDATORS,
    Checked,
)

BODY = "body"
_LONG_MIN, _LONG_MAX = -(2**63), 2**63 - 1

# -- shared field types -------------------------------------------------------------------


def _opt_float() -> Float:
    return Float(nullable=True)


def _opt_int() -> Int:
    return Int(nullable=True)


def _opt_bool() -> Bool:
    return Bool(nullable=True)


def _opt_str() -> Str:
    return Str(nullable=True)


def _opt_dict() -> DictOf:
    return DictOf(AnyValue(), nullable=True)


_STREAM_OPTIONS = Model(
    "StreamOptions",
    [("include_usage", _opt_bool(), False), ("continuous_usage_stats", _opt_bool(), False)],
    nullable=True,
)
_JSON_SCHEMA = Model(
    VLLM_MODEL,
    [
        ("name", Str(), True),
        ("description", _opt_str(), False),
        ("schema", _opt_dict(), False),
        ("strict", _opt_bool(), False),
    ],
    nullable=True,
)
_STRUCTURAL_TAG = Model(
    VLLM_MODEL, [("begin", Str(), True), ("schema", _opt_dict(), False), ("end", Str(), True)]
)
_RESPONSE_FORMAT = Union(
    Model(
        VLLM_MODEL,
        [
            ("type", Literal("text", "json_object", "json_schema"), True),
            ("json_schema", _JSON_SCHEMA, False),
        ],
    ),
    Model(
        VLLM_MODEL,
        [
            ("type", Literal("structural_tag"), True),
            ("structures", ListOf(_STRUCTURAL_TAG), True),
            ("triggers", ListOf(Str()), True),
        ],
    ),
    nullable=True,
)
_FUNCTION = Model(
    VLLM_MODEL,
    [("name", Str(), True), ("description", _opt_str(), False), ("parameters", _opt_dict(), False)],
)
_TOOLS = ListOf(
    Model(VLLM_MODEL, [("type", Literal("function"), False), ("function", _FUNCTION, True)]),
    nullable=True,
)
_TOOL_CHOICE = Union(
    Literal("none"),
    Literal("auto"),
    Literal("required"),
    Model(
        VLLM_MODEL,
        [
            ("function", Model(VLLM_MODEL, [("name", Str(), True)]), True),
            ("type", Literal("function"), False),
        ],
    ),
    nullable=True,
)
_STRUCTURED_OUTPUTS = Model(
    "StructuredOutputsParams",
    [
        ("json", Union(Str(), DictOf(AnyValue(), label="dict[any,any]"), nullable=True), False),
        ("regex", _opt_str(), False),
        ("choice", ListOf(Str(), nullable=True), False),
        ("grammar", _opt_str(), False),
        ("json_object", _opt_bool(), False),
        ("disable_fallback", Bool(), False),
        ("disable_any_whitespace", Bool(), False),
        ("disable_additional_properties", Bool(), False),
        ("whitespace_pattern", _opt_str(), False),
        ("structural_tag", _opt_str(), False),
    ],
    nullable=True,
)
_GUIDED_JSON = Union(
    Str(), DictOf(AnyValue(), label="dict[any,any]"), Model("BaseModel", []), nullable=True
)
_LOGITS_PROCESSORS = ListOf(
    Union(
        Str(),
        Model(
            "LogitsProcessorConstructor",
            [
                ("qualname", Str(), True),
                ("args", ListOf(AnyValue(), nullable=True), False),
                ("kwargs", _opt_dict(), False),
            ],
            forbid_extra=True,
        ),
    ),
    nullable=True,
)
_STOP = Union(Str(), ListOf(Str()), nullable=True)

Field = tuple[str, Type, bool]

# The OpenAI-documented head of both generation requests (chat's order).
_SAMPLING_TAIL: tuple[Field, ...] = (
    ("use_beam_search", Bool(), False),
    ("top_k", _opt_int(), False),
    ("min_p", _opt_float(), False),
    ("repetition_penalty", _opt_float(), False),
    ("length_penalty", Float(), False),
    ("stop_token_ids", ListOf(Int(), nullable=True), False),
    ("include_stop_str_in_output", Bool(), False),
    ("ignore_eos", Bool(), False),
    ("min_tokens", Int(), False),
    ("skip_special_tokens", Bool(), False),
    ("spaces_between_special_tokens", Bool(), False),
    ("truncate_prompt_tokens", Int(nullable=True, ge=-1), False),
)
_GUIDED: tuple[Field, ...] = (
    ("structured_outputs", _STRUCTURED_OUTPUTS, False),
    ("guided_json", _GUIDED_JSON, False),
    ("guided_regex", _opt_str(), False),
    ("guided_choice", ListOf(Str(), nullable=True), False),
    ("guided_grammar", _opt_str(), False),
)
_REQUEST_TAIL: tuple[Field, ...] = (
    ("priority", Int(), False),
    ("request_id", Str(), False),
    ("logits_processors", _LOGITS_PROCESSORS, False),
    ("return_tokens_as_token_ids", _opt_bool(), False),
    ("return_token_ids", _opt_bool(), False),
    ("cache_salt", _opt_str(), False),
    ("kv_transfer_params", _opt_dict(), False),
    ("vllm_xargs", DictOf(Union(Str(), Int(), Float()), nullable=True), False),
)

CHAT_FIELDS: tuple[Field, ...] = (
    ("messages", Messages(), True),
    ("model", _opt_str(), False),
    ("frequency_penalty", _opt_float(), False),
    ("logit_bias", DictOf(Float(), nullable=True), False),
    ("logprobs", _opt_bool(), False),
    ("top_logprobs", _opt_int(), False),
    ("max_tokens", _opt_int(), False),
    ("max_completion_tokens", _opt_int(), False),
    ("n", _opt_int(), False),
    ("presence_penalty", _opt_float(), False),
    ("response_format", _RESPONSE_FORMAT, False),
    ("seed", Int(nullable=True, ge=_LONG_MIN, le=_LONG_MAX), False),
    ("stop", _STOP, False),
    ("stream", _opt_bool(), False),
    ("stream_options", _STREAM_OPTIONS, False),
    ("temperature", _opt_float(), False),
    ("top_p", _opt_float(), False),
    ("tools", _TOOLS, False),
    ("tool_choice", _TOOL_CHOICE, False),
    ("reasoning_effort", Literal("low", "medium", "high", nullable=True), False),
    ("include_reasoning", Bool(), False),
    ("parallel_tool_calls", _opt_bool(), False),
    ("user", _opt_str(), False),
    ("best_of", _opt_int(), False),
    *_SAMPLING_TAIL,
    ("prompt_logprobs", _opt_int(), False),
    ("allowed_token_ids", ListOf(Int(), nullable=True), False),
    ("bad_words", ListOf(Str()), False),
    ("echo", Bool(), False),
    ("add_generation_prompt", Bool(), False),
    ("continue_final_message", Bool(), False),
    ("add_special_tokens", Bool(), False),
    ("documents", ListOf(DictOf(Str()), nullable=True), False),
    ("chat_template", _opt_str(), False),
    ("chat_template_kwargs", _opt_dict(), False),
    ("mm_processor_kwargs", _opt_dict(), False),
    *_GUIDED,
    ("structural_tag", _opt_str(), False),
    ("guided_decoding_backend", _opt_str(), False),
    ("guided_whitespace_pattern", _opt_str(), False),
    *_REQUEST_TAIL,
)

COMPLETION_FIELDS: tuple[Field, ...] = (
    ("model", _opt_str(), False),
    ("prompt", Prompt(nullable=True), False),
    ("best_of", _opt_int(), False),
    ("echo", _opt_bool(), False),
    ("frequency_penalty", _opt_float(), False),
    ("logit_bias", DictOf(Float(), nullable=True), False),
    ("logprobs", _opt_int(), False),
    ("max_tokens", _opt_int(), False),
    ("n", Int(), False),
    ("presence_penalty", _opt_float(), False),
    ("seed", Int(nullable=True, ge=_LONG_MIN, le=_LONG_MAX), False),
    ("stop", _STOP, False),
    ("stream", _opt_bool(), False),
    ("stream_options", _STREAM_OPTIONS, False),
    ("suffix", _opt_str(), False),
    ("temperature", _opt_float(), False),
    ("top_p", _opt_float(), False),
    ("user", _opt_str(), False),
    *_SAMPLING_TAIL,
    ("allowed_token_ids", ListOf(Int(), nullable=True), False),
    ("prompt_logprobs", _opt_int(), False),
    ("prompt_embeds", Union(Bytes(), ListOf(Bytes()), nullable=True), False),
    ("add_special_tokens", Bool(), False),
    ("response_format", _RESPONSE_FORMAT, False),
    *_GUIDED,
    ("guided_decoding_backend", _opt_str(), False),
    ("guided_whitespace_pattern", _opt_str(), False),
    *_REQUEST_TAIL,
)

_EMBEDDING_HEAD: tuple[Field, ...] = (
    ("encoding_format", Literal("float", "base64"), False),
    ("dimensions", _opt_int(), False),
    ("user", _opt_str(), False),
    ("truncate_prompt_tokens", Int(nullable=True, ge=-1), False),
)
_EMBEDDING_TAIL: tuple[Field, ...] = (
    ("priority", Int(), False),
    ("request_id", Str(), False),
    ("normalize", _opt_bool(), False),
)
EMBEDDING_FIELDS: tuple[Field, ...] = (
    ("model", _opt_str(), False),
    ("input", Prompt(), True),
    *_EMBEDDING_HEAD,
    ("add_special_tokens", Bool(), False),
    *_EMBEDDING_TAIL,
)
EMBEDDING_CHAT_FIELDS: tuple[Field, ...] = (
    ("model", _opt_str(), False),
    ("messages", Messages(), True),
    *_EMBEDDING_HEAD,
    ("add_generation_prompt", Bool(), False),
    ("add_special_tokens", Bool(), False),
    ("chat_template", _opt_str(), False),
    ("chat_template_kwargs", _opt_dict(), False),
    ("mm_processor_kwargs", _opt_dict(), False),
    *_EMBEDDING_TAIL,
)

# -- running a table ------------------------------------------------------------------------


class RequestModel:
    """One request model: its validators and fields, indexed for a pass over the body."""

    __slots__ = ("fields", "index", "reads", "required", "triggers", "validators")

    def __init__(self, fields: Sequence[Field], validators: Sequence[Checked] = ()) -> None:
        self.fields = tuple(fields)
        self.validators = tuple(validators)
        self.index = {
            name: (i, kind, kind.exact, kind.nullable)
            for i, (name, kind, _) in enumerate(self.fields)
        }
        self.required = tuple((i, name) for i, (name, _, req) in enumerate(self.fields) if req)
        # The fields that wake up any validator (None: one always runs).
        every = [reads for _, reads in self.validators]
        self.triggers = frozenset().union(*(r for r in every if r is not None))
        self.reads: frozenset[str] | None = None if None in every else self.triggers

    def errors(self, data: dict[str, Any], values: dict[str, Any], loc: Loc) -> Errors:
        """Run the validators and fields; ``values`` gets each known field's value."""
        if self.reads is None or not data.keys().isdisjoint(self.reads):
            failed = self._run_validators(data, loc)
            if failed:
                return failed
        found: list[tuple[int, Errors]] = []
        index = self.index
        for key, value in data.items():
            entry = index.get(key)
            if entry is None:
                continue
            position, kind, exact, nullable = entry
            if value.__class__ in exact or (value is None and nullable):
                values[key] = value
                continue
            field_errors: Errors = []
            values[key] = kind.check(value, (*loc, key), field_errors)
            if field_errors:
                found.append((position, field_errors))
        for position, name in self.required:
            if name not in data:
                found.append((position, [lax.missing((*loc, name), data)]))
        if not found:
            return []
        found.sort(key=lambda item: item[0])
        return [entry for _, field_errors in found for entry in field_errors]

    def _run_validators(self, data: dict[str, Any], loc: Loc) -> Errors:
        present = data.keys() & self.triggers
        for validator, reads in self.validators:
            if reads is not None and (not present or reads.isdisjoint(present)):
                continue
            try:
                validator(data)
            except ValueError as exc:
                text = str(exc)
                return [lax.error("value_error", loc, f"Value error, {text}", data, {"error": exc})]
            except (TypeError, KeyError, AttributeError, IndexError):
                raise internal_error() from None
        return []

    def validate(self, data: Any) -> dict[str, Any]:
        """The fields' values, or the :class:`VLLMError` vLLM answers for this body."""
        if not isinstance(data, dict):
            # vLLM's validators call data.get() on whatever the body is.
            raise internal_error()
        values: dict[str, Any] = {}
        errors = self.errors(data, values, (BODY,))
        if errors:
            raise request_invalid(errors)
        return values


CHAT = RequestModel(CHAT_FIELDS, CHAT_VALIDATORS)
COMPLETION = RequestModel(COMPLETION_FIELDS, COMPLETION_VALIDATORS)
EMBEDDING = RequestModel(EMBEDDING_FIELDS)
EMBEDDING_CHAT = RequestModel(EMBEDDING_CHAT_FIELDS, EMBEDDING_CHAT_VALIDATORS)


def validate_embedding(data: Any) -> tuple[bool, dict[str, Any]]:
    """``(is_chat, values)`` for vLLM's ``Union[EmbeddingCompletionRequest,
    EmbeddingChatRequest]``; when neither fits, both members' errors."""
    if not isinstance(data, dict):
        raise internal_error()
    loc: Loc = (BODY, VLLM_MODEL)
    values: dict[str, Any] = {}
    first = EMBEDDING.errors(data, values, loc)
    if not first:
        return False, values
    chat_values: dict[str, Any] = {}
    second = EMBEDDING_CHAT.errors(data, chat_values, loc)
    if not second:
        return True, chat_values
    raise request_invalid(first + second)


__all__ = ["CHAT", "COMPLETION", "VLLMError", "validate_embedding"]
