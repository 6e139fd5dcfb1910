"""Request bodies -> plain job descriptions, validated the way OpenAI/vLLM answer them.

Bodies are parsed with orjson and checked by hand (no pydantic on the hot path). Every
problem raises :class:`GatewayError`: 400 for a malformed or invalid body, 404
(``model_not_found``) for a model the simulator does not serve.
"""

from __future__ import annotations

import enum
from dataclasses import dataclass
from typing import Any

import orjson

from gateway_shared.errors import GatewayError
from simulator import generation

MAX_CHOICES = 128


class Kind(enum.Enum):
    CHAT = "chat"
    COMPLETION = "completion"


@dataclass(slots=True, frozen=True)
class GenerationJob:
    """A chat or text completion to simulate."""

    kind: Kind
    model: str
    prompt_tokens: int
    # How many answers: `n` for chat, `n` x number of prompts for completions.
    choices: int
    max_tokens: int | None
    stream: bool
    include_usage: bool


@dataclass(slots=True, frozen=True)
class EmbeddingJob:
    model: str
    inputs: list[str | list[int]]
    prompt_tokens: int
    base64: bool
    dimensions: int | None


def load_object(body: bytes) -> dict[str, Any]:
    try:
        data = orjson.loads(body)
    except orjson.JSONDecodeError:
        raise GatewayError(
            "We could not parse the JSON body of your request. (HINT: This likely means you"
            " aren't using your HTTP library correctly. The OpenAI API expects a JSON payload,"
            " but what was sent was not valid JSON.)",
            code="invalid_json",
        ) from None
    if not isinstance(data, dict):
        raise GatewayError("The request body must be a JSON object.", code="invalid_type")
    return data


def _missing(param: str) -> GatewayError:
    return GatewayError(
        f"Missing required parameter: '{param}'.",
        param=param,
        code="missing_required_parameter",
    )


def _invalid(param: str, expected: str) -> GatewayError:
    return GatewayError(
        f"Invalid value for '{param}': expected {expected}.", param=param, code="invalid_value"
    )


def _is_int(value: Any) -> bool:
    return isinstance(value, int) and not isinstance(value, bool)


def _model(data: dict[str, Any]) -> str:
    model = data.get("model")
    if model is None:
        raise _missing("model")
    if not isinstance(model, str):
        raise _invalid("model", "a string")
    return model


def check_model(model: str, models: dict[str, bytes]) -> None:
    if model not in models:
        raise model_not_found(model)


def model_not_found(model: str) -> GatewayError:
    return GatewayError(
        f"The model `{model}` does not exist or you do not have access to it.",
        status=404,
        param="model",
        code="model_not_found",
    )


def _optional_int(data: dict[str, Any], param: str, minimum: int) -> int | None:
    value = data.get(param)
    if value is None:
        return None
    if not _is_int(value) or value < minimum:
        raise _invalid(param, f"an integer >= {minimum}")
    result: int = value
    return result


def _stream_flags(data: dict[str, Any]) -> tuple[bool, bool]:
    stream = data.get("stream")
    if stream is None:
        stream = False
    elif not isinstance(stream, bool):
        raise _invalid("stream", "a boolean")
    options = data.get("stream_options")
    if options is None:
        return stream, False
    if not isinstance(options, dict):
        raise _invalid("stream_options", "an object")
    if not stream:
        raise GatewayError(
            "The 'stream_options' parameter is only allowed when 'stream' is enabled.",
            param="stream_options",
            code="invalid_value",
        )
    include_usage = options.get("include_usage")
    if include_usage is not None and not isinstance(include_usage, bool):
        raise _invalid("stream_options.include_usage", "a boolean")
    return stream, bool(include_usage)


def parse_chat(data: dict[str, Any], models: dict[str, bytes]) -> GenerationJob:
    model = _model(data)
    messages = data.get("messages")
    if messages is None:
        raise _missing("messages")
    if not isinstance(messages, list) or not messages:
        raise _invalid("messages", "a non-empty array of messages")
    for i, message in enumerate(messages):
        if not isinstance(message, dict) or not isinstance(message.get("role"), str):
            raise _invalid(f"messages[{i}]", "an object with a string 'role'")
    n = _optional_int(data, "n", 1) or 1
    if n > MAX_CHOICES:
        raise _invalid("n", f"an integer <= {MAX_CHOICES}")
    max_tokens = _optional_int(data, "max_completion_tokens", 1)
    if max_tokens is None:
        max_tokens = _optional_int(data, "max_tokens", 1)
    stream, include_usage = _stream_flags(data)
    check_model(model, models)
    return GenerationJob(
        kind=Kind.CHAT,
        model=model,
        prompt_tokens=generation.chat_prompt_tokens(messages),
        choices=n,
        max_tokens=max_tokens,
        stream=stream,
        include_usage=include_usage,
    )


def _inputs(data: dict[str, Any], param: str) -> list[str | list[int]]:
    """A prompt/input: a string, a list of strings, a token array or a list of those."""
    value = data.get(param)
    if value is None:
        raise _missing(param)
    if isinstance(value, str):
        return [value]
    expected = "a string, an array of strings, or token arrays"
    if not isinstance(value, list) or not value:
        raise _invalid(param, expected)
    if all(_is_int(v) for v in value):
        return [value]
    items: list[str | list[int]] = []
    for item in value:
        if isinstance(item, str) or (
            isinstance(item, list) and item and all(_is_int(v) for v in item)
        ):
            items.append(item)
        else:
            raise _invalid(param, expected)
    return items


def parse_completion(data: dict[str, Any], models: dict[str, bytes]) -> GenerationJob:
    model = _model(data)
    prompts = _inputs(data, "prompt")
    n = _optional_int(data, "n", 1) or 1
    if n * len(prompts) > MAX_CHOICES:
        raise _invalid("n", f"at most {MAX_CHOICES} choices in all")
    max_tokens = _optional_int(data, "max_tokens", 1)
    stream, include_usage = _stream_flags(data)
    check_model(model, models)
    return GenerationJob(
        kind=Kind.COMPLETION,
        model=model,
        prompt_tokens=sum(generation.prompt_tokens(p) for p in prompts),
        choices=n * len(prompts),
        max_tokens=max_tokens,
        stream=stream,
        include_usage=include_usage,
    )


def parse_embedding(data: dict[str, Any], models: dict[str, bytes]) -> EmbeddingJob:
    model = _model(data)
    inputs = _inputs(data, "input")
    encoding = data.get("encoding_format")
    if encoding not in (None, "float", "base64"):
        raise _invalid("encoding_format", "'float' or 'base64'")
    dimensions = _optional_int(data, "dimensions", 1)
    if dimensions is not None and dimensions > 65536:
        raise _invalid("dimensions", "an integer <= 65536")
    check_model(model, models)
    return EmbeddingJob(
        model=model,
        inputs=inputs,
        prompt_tokens=sum(generation.prompt_tokens(i) for i in inputs),
        base64=encoding == "base64",
        dimensions=dimensions,
    )
