"""vLLM v0.11.0's ``model_validator(mode="before")`` checks, transcribed as they are.

They run on the raw body before any field is checked, in the order pydantic runs them
(the last defined first), and the first ``ValueError`` is the only error reported. They
are kept close to vLLM's text so that Python's own comparisons and ``dict.get`` do what
they do there: ``"top_logprobs": "5"`` makes ``"5" < 0`` raise a ``TypeError``, which
escapes pydantic and is a 500 in vLLM (see :class:`~simulator.validation.requests.RequestModel`).
``check_tool_usage`` rewrites the body as vLLM's does (``tool_choice`` defaults).

Each endpoint's list pairs a validator with the fields it reads: one whose fields are
all absent does nothing, so it is not called.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

Validator = Callable[[dict[str, Any]], None]
Checked = tuple[Validator, frozenset[str] | None]


def check_cache_salt_support(data: dict[str, Any]) -> None:
    if data.get("cache_salt") is not None and (
        not isinstance(data["cache_salt"], str) or not data["cache_salt"]
    ):
        raise ValueError("Parameter 'cache_salt' must be a non-empty string if provided.")


def check_generation_prompt(data: dict[str, Any]) -> None:
    if data.get("continue_final_message") and data.get("add_generation_prompt"):
        raise ValueError(
            "Cannot set both `continue_final_message` and `add_generation_prompt` to True."
        )


_CORRECT_USAGE = 'Correct usage: `{"type": "function", "function": {"name": "my_function"}}`'


def check_tool_usage(data: dict[str, Any]) -> None:
    """vLLM's rules for ``tool_choice`` (it also rewrites the body, as vLLM does)."""
    if "tool_choice" not in data and data.get("tools"):
        data["tool_choice"] = "auto"
    choice = data.get("tool_choice")
    if choice is None or choice == "none":
        return
    if data.get("tools") is None:
        raise ValueError("When using `tool_choice`, `tools` must be set.")
    if choice not in ["auto", "required"] and not isinstance(choice, dict):
        raise ValueError(
            f"Invalid value for `tool_choice`: {choice}! "
            'Only named tools, "none", "auto" or "required" are supported.'
        )
    tools = data["tools"]
    if choice == "required" and isinstance(tools, list) and len(tools) == 0:
        data["tool_choice"] = "none"
        del data["tools"]
        return
    if isinstance(choice, dict):
        function = choice.get("function")
        if not isinstance(function, dict):
            raise ValueError(
                f"Invalid value for `function`: `{function}` in `tool_choice`! {_CORRECT_USAGE}"
            )
        if "name" not in function:
            raise ValueError(
                f"Expected field `name` in `function` in `tool_choice`! {_CORRECT_USAGE}"
            )
        name = function["name"]
        if not isinstance(name, str) or len(name) == 0:
            raise ValueError(
                f"Invalid `name` in `function`: `{name}` in `tool_choice`! {_CORRECT_USAGE}"
            )
        if not any(tool["function"]["name"] == name for tool in tools):
            raise ValueError(
                "The tool specified in `tool_choice` does not match any of the specified `tools`"
            )


def check_structured_outputs_count(data: dict[str, Any]) -> None:
    outputs = data.get("structured_outputs")
    if outputs is None:
        return
    if sum(outputs.get(k) is not None for k in ("json", "regex", "choice")) > 1:
        raise ValueError(
            "You can only use one kind of constraints for structured outputs "
            "('json', 'regex' or 'choice')."
        )


def _check_prompt_logprobs(data: dict[str, Any]) -> None:
    if (prompt_logprobs := data.get("prompt_logprobs")) is not None:
        if data.get("stream") and (prompt_logprobs > 0 or prompt_logprobs == -1):
            raise ValueError("`prompt_logprobs` are not available when `stream=True`.")
        if prompt_logprobs < 0 and prompt_logprobs != -1:
            raise ValueError("`prompt_logprobs` must be a positive value or -1.")


def check_chat_logprobs(data: dict[str, Any]) -> None:
    _check_prompt_logprobs(data)
    if (top_logprobs := data.get("top_logprobs")) is not None:
        if top_logprobs < 0 and top_logprobs != -1:
            raise ValueError("`top_logprobs` must be a positive value or -1.")
        if (top_logprobs == -1 or top_logprobs > 0) and not data.get("logprobs"):
            raise ValueError("when using `top_logprobs`, `logprobs` must be set to true.")


def check_completion_logprobs(data: dict[str, Any]) -> None:
    _check_prompt_logprobs(data)
    if (logprobs := data.get("logprobs")) is not None and logprobs < 0:
        raise ValueError("`logprobs` must be a positive value.")


def validate_stream_options(data: dict[str, Any]) -> None:
    if data.get("stream_options") and not data.get("stream"):
        raise ValueError("Stream options can only be defined when `stream=True`.")


def validate_prompt_and_prompt_embeds(data: dict[str, Any]) -> None:
    prompt = data.get("prompt")
    embeds = data.get("prompt_embeds")
    prompt_is_empty = prompt is None or (isinstance(prompt, str) and prompt == "")
    embeds_is_empty = embeds is None or (isinstance(embeds, list) and len(embeds) == 0)
    if prompt_is_empty and embeds_is_empty:
        raise ValueError("Either prompt or prompt_embeds must be provided and non-empty.")


# Each validator with the fields it reads (None: always called), in the order they run.
CHAT_VALIDATORS: tuple[Checked, ...] = (
    (check_cache_salt_support, frozenset({"cache_salt"})),
    (check_generation_prompt, frozenset({"continue_final_message"})),
    (check_tool_usage, frozenset({"tool_choice", "tools"})),
    (check_structured_outputs_count, frozenset({"structured_outputs"})),
    (check_chat_logprobs, frozenset({"prompt_logprobs", "top_logprobs"})),
    (validate_stream_options, frozenset({"stream_options"})),
)
COMPLETION_VALIDATORS: tuple[Checked, ...] = (
    (check_cache_salt_support, frozenset({"cache_salt"})),
    (validate_prompt_and_prompt_embeds, None),
    (validate_stream_options, frozenset({"stream_options"})),
    (check_completion_logprobs, frozenset({"prompt_logprobs", "logprobs"})),
    (check_structured_outputs_count, frozenset({"structured_outputs"})),
)
EMBEDDING_CHAT_VALIDATORS: tuple[Checked, ...] = (
    (check_generation_prompt, frozenset({"continue_final_message"})),
)
