"""Request bodies -> plain job descriptions, refused the way vLLM v0.11.0 refuses them.

The simulator stands in for vLLM, so it accepts what vLLM accepts (pydantic's lax
mode: ``"temperature": "0.5"``, ``"stream": "yes"``, unknown fields ignored, no
``model`` meaning the served one) and answers what vLLM rejects with vLLM's status,
envelope and message (:mod:`simulator.validation`), in vLLM's order: the body and its
media type, the request model, the model name (404), then the serving code's and
``SamplingParams``' checks. Every refusal raises :class:`VLLMError`.

Bodies are parsed with orjson and checked by hand-written, table-driven field types:
no pydantic on the hot path.
"""

from __future__ import annotations

import enum
from typing import Any, NamedTuple

from simulator import generation
from simulator.tools import Tool, ToolCall, planned_call
from simulator.validation.errors import VLLMError, bad_request, model_not_found
from simulator.validation.requests import CHAT, COMPLETION, validate_embedding
from simulator.validation.sampling import check_chat, check_completion

# Not a vLLM limit (vLLM has none): it keeps one request from tying up the simulator.
MAX_CHOICES = 1024
# The context length the simulator reports (it enforces none).
MAX_MODEL_LEN = 131072


class Kind(enum.Enum):
    CHAT = "chat"
    COMPLETION = "completion"
    RESPONSES = "responses"
    MESSAGES = "messages"


# NamedTuples: immutable, and built several times faster than frozen dataclasses.
class GenerationJob(NamedTuple):
    """A chat or text completion to simulate."""

    kind: Kind
    model: str
    prompt_tokens: int
    # How many answers: `n` for chat, `n` x number of prompts for completions.
    choices: int
    max_tokens: int | None
    stream: bool
    include_usage: bool
    call: ToolCall | None = None
    reasoning: bool = False
    # The body as read, for the APIs whose answer echoes parts of it (Responses).
    request: dict[str, Any] | None = None


class EmbeddingJob(NamedTuple):
    model: str
    inputs: list[str | list[int]]
    prompt_tokens: int
    base64: bool
    dimensions: int | None


def served_model(values: dict[str, Any], models: dict[str, bytes]) -> str:
    """The model a request names; vLLM serves one without a name (or ``""``) itself."""
    model = values.get("model")
    if not model:
        return next(iter(models))
    if model not in models:
        raise model_not_found(model)
    result: str = model
    return result


def _choices(count: int) -> int:
    if count > MAX_CHOICES:
        raise bad_request(f"The simulator generates at most {MAX_CHOICES} choices per request.")
    return count


def _stream_flags(values: dict[str, Any]) -> tuple[bool, bool]:
    stream = bool(values.get("stream"))
    options = values.get("stream_options")
    # StreamOptions.include_usage defaults to True: {"stream_options": {}} asks for usage.
    include_usage = stream and options is not None and bool(options.get("include_usage", True))
    return stream, include_usage


def _chat_call(values: dict[str, Any]) -> ToolCall | None:
    """The tool call a chat answer makes (``tool_choice`` as vLLM's validators left it)."""
    if not values.get("tools"):
        return None
    tools = [Tool(t["function"]["name"], t["function"].get("parameters")) for t in values["tools"]]
    choice = values.get("tool_choice") or "auto"
    if isinstance(choice, dict):
        choice = choice["function"]["name"]
    last = values["messages"][-1] if values["messages"] else {}
    text = generation.last_text(last.get("content")) if last.get("role") == "user" else None
    return planned_call(tools, choice, text)


def _chat_reasoning(values: dict[str, Any]) -> bool:
    """Reasoning is asked for by ``reasoning_effort`` or the template's ``enable_thinking``."""
    kwargs = values.get("chat_template_kwargs") or {}
    return values.get("reasoning_effort") is not None or kwargs.get("enable_thinking") is True


def parse_chat(data: Any, models: dict[str, bytes]) -> GenerationJob:
    values = CHAT.validate(data)
    model = served_model(values, models)
    check_chat(values)
    stream, include_usage = _stream_flags(values)
    return GenerationJob(
        kind=Kind.CHAT,
        model=model,
        prompt_tokens=generation.chat_prompt_tokens(values["messages"], values.get("tools")),
        choices=_choices(values.get("n") or 1),
        max_tokens=values.get("max_completion_tokens") or values.get("max_tokens"),
        stream=stream,
        include_usage=include_usage,
        call=_chat_call(values),
        reasoning=_chat_reasoning(values),
    )


def tokenize(data: Any, models: dict[str, bytes]) -> dict[str, Any]:
    """vLLM's ``/tokenize`` answer for a chat (``messages``, ``tools``) or a ``prompt``: the
    count is the prompt estimate a generation of the same input is billed."""
    if not isinstance(data, dict):
        raise bad_request("The request body must be a JSON object.")
    served_model(data, models)
    messages = data.get("messages")
    if isinstance(messages, list):
        messages = [m for m in messages if isinstance(m, dict)]
        count = generation.chat_prompt_tokens(messages, data.get("tools"))
    elif isinstance(data.get("prompt"), str | list):
        count = generation.prompt_tokens(data["prompt"])
    else:
        raise bad_request("Either `messages` or `prompt` must be given.")
    # Token ids stand in for a tokenizer's: the simulator has no vocabulary.
    return {"count": count, "max_model_len": MAX_MODEL_LEN, "tokens": list(range(count)),
            "token_strs": None}  # fmt: skip


def _prompts(value: Any) -> list[str | list[int]]:
    """A validated prompt/input as a list of prompts (text or token ids)."""
    if value is None:
        return []
    if isinstance(value, str) or not value or isinstance(value[0], int):
        return [value]
    return list(value)


def parse_completion(data: Any, models: dict[str, bytes]) -> GenerationJob:
    values = COMPLETION.validate(data)
    model = served_model(values, models)
    check_completion(values)
    prompts = _prompts(values.get("prompt"))
    max_tokens = values.get("max_tokens")
    if max_tokens == 0 and values.get("echo"):
        max_tokens = 1
    stream, include_usage = _stream_flags(values)
    return GenerationJob(
        kind=Kind.COMPLETION,
        model=model,
        prompt_tokens=sum(generation.prompt_tokens(p) for p in prompts),
        choices=_choices(values.get("n", 1) * max(len(prompts), 1)),
        max_tokens=max_tokens,
        stream=stream,
        include_usage=include_usage,
    )


def _chat_text(messages: list[Any]) -> str:
    parts: list[str] = []
    for message in messages:
        content = message.get("content")
        if isinstance(content, str):
            parts.append(content)
        elif isinstance(content, list):
            parts.extend(p["text"] for p in content if isinstance(p, dict) and "text" in p)
    return "\n".join(str(p) for p in parts)


def parse_embedding(data: Any, models: dict[str, bytes]) -> EmbeddingJob:
    is_chat, values = validate_embedding(data)
    model = served_model(values, models)
    dimensions = values.get("dimensions")
    if dimensions is not None and dimensions < 1:
        raise bad_request("Dimensions must be greater than 0")
    if is_chat:
        messages = values["messages"]
        inputs: list[str | list[int]] = [_chat_text(messages)]
        prompt_tokens = generation.chat_prompt_tokens(messages)
    else:
        inputs = _prompts(values["input"])
        prompt_tokens = sum(generation.prompt_tokens(i) for i in inputs)
    return EmbeddingJob(
        model=model,
        inputs=inputs,
        prompt_tokens=prompt_tokens,
        base64=values.get("encoding_format") == "base64",
        dimensions=dimensions,
    )


__all__ = [
    "EmbeddingJob",
    "GenerationJob",
    "Kind",
    "VLLMError",
    "parse_chat",
    "parse_completion",
    "parse_embedding",
]
