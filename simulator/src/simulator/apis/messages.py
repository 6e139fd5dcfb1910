"""``POST /v1/messages`` and ``/v1/messages/count_tokens`` as recent vLLM serves them
(Anthropic's Messages API): a request read into a
:class:`~simulator.parsing.GenerationJob`, its answer rendered as a ``message`` or as
Anthropic's stream events.

Read from the request: ``model``, ``system`` and every message's text (the prompt
estimate), ``max_tokens`` (required), ``tools`` (those with an ``input_schema``),
``tool_choice`` (``auto``, ``any``: required, ``tool``: named, ``none``), ``stream``, and
``thinking`` (``enabled`` or ``adaptive``: the answer reasons first, as a ``thinking``
block). The last message, when it is the user's and holds no ``tool_result``, is the "last
user text" of :mod:`simulator.tools`. Refusals use Anthropic's envelope
``{"type": "error", "error": {"type", "message"}}``.

Content blocks, in order: ``thinking``, then ``text`` or one ``tool_use``. ``stop_reason``:
``tool_use`` for a call, ``max_tokens`` when ``max_tokens`` cut the answer, else
``end_turn``. The stream: ``message_start``, per block ``content_block_start``, its
deltas (``thinking_delta``, ``text_delta``, ``input_json_delta``) and
``content_block_stop``, then ``message_delta`` (stop reason, output tokens) and
``message_stop``.
"""

from __future__ import annotations

from typing import Any

import orjson

from simulator import generation
from simulator.generation import Answer, estimate_tokens
from simulator.parsing import GenerationJob, Kind, served_model
from simulator.tools import Choice, Tool, call_id, planned_call
from simulator.validation.errors import VLLMError

_CHOICES = {"auto": "auto", "any": "required", "none": "none"}


def anthropic_error(message: str, status: int = 400) -> VLLMError:
    kind = "not_found_error" if status == 404 else "invalid_request_error"
    body = {"type": "error", "error": {"type": kind, "message": message}}
    return VLLMError(orjson.dumps(body), status=status)


def _values(data: Any, models: dict[str, bytes]) -> tuple[dict[str, Any], str]:
    if not isinstance(data, dict):
        raise anthropic_error("The request body must be a JSON object.")
    try:
        model = served_model(data, models)
    except VLLMError:
        raise anthropic_error(f"The model `{data.get('model')}` does not exist.", 404) from None
    if not isinstance(data.get("messages"), list):
        raise anthropic_error("messages: Field required (a list of messages).")
    return data, model


def _prompt_tokens(values: dict[str, Any]) -> int:
    characters = (
        generation.text_characters(values.get("system"))
        + generation.text_characters(values["messages"])
        + generation.tools_characters(values.get("tools"))
    )
    return estimate_tokens(characters)


def _last_user_text(messages: list[Any]) -> str | None:
    last = messages[-1] if messages else None
    if not isinstance(last, dict) or last.get("role") != "user":
        return None
    content = last.get("content")
    if isinstance(content, list) and any(
        isinstance(b, dict) and b.get("type") == "tool_result" for b in content
    ):
        return None
    return generation.last_text(content)


def _tools(values: dict[str, Any]) -> list[Tool]:
    tools = values.get("tools")
    return [
        Tool(t["name"], t["input_schema"])
        for t in tools if isinstance(t, dict) and isinstance(t.get("name"), str)
        and "input_schema" in t
    ] if isinstance(tools, list) else []  # fmt: skip


def _choice(value: Any) -> Choice:
    if not isinstance(value, dict):
        return "auto"
    if value.get("type") == "tool":
        return str(value.get("name"))
    return _CHOICES.get(str(value.get("type")), "auto")


def count_tokens(data: Any, models: dict[str, bytes]) -> int:
    """``count_tokens``: the prompt estimate a generation of the same request is billed."""
    return _prompt_tokens(_values(data, models)[0])


def parse_messages(data: Any, models: dict[str, bytes]) -> GenerationJob:
    values, model = _values(data, models)
    max_tokens = values.get("max_tokens")
    if not isinstance(max_tokens, int) or isinstance(max_tokens, bool) or max_tokens < 1:
        raise anthropic_error("max_tokens: Field required (a positive integer).")
    thinking = values.get("thinking")
    kind = thinking.get("type") if isinstance(thinking, dict) else None
    return GenerationJob(
        kind=Kind.MESSAGES,
        model=model,
        prompt_tokens=_prompt_tokens(values),
        choices=1,
        max_tokens=max_tokens,
        stream=bool(values.get("stream")),
        include_usage=False,  # the usage is part of message_start and message_delta
        call=planned_call(
            _tools(values), _choice(values.get("tool_choice")), _last_user_text(values["messages"])
        ),
        reasoning=kind in ("enabled", "adaptive"),
    )


def _stop_reason(answer: Answer) -> str:
    if answer.call is not None:
        return "tool_use"
    return "max_tokens" if answer.finish_reason == "length" else "end_turn"


def _blocks(answer: Answer, tool_id: str, *, done: bool) -> list[dict[str, Any]]:
    """The answer's content blocks, whole (``done``) or as ``content_block_start`` has them."""
    blocks: list[dict[str, Any]] = []
    if answer.reasoning_tokens:
        thinking = answer.reasoning_text if done else ""
        blocks.append({"type": "thinking", "thinking": thinking, "signature": ""})
    if answer.call is not None:
        tool_input = orjson.loads(answer.call.arguments) if done else {}
        blocks.append({"type": "tool_use", "id": tool_id, "name": answer.call.name,
                       "input": tool_input})  # fmt: skip
    elif answer.text_tokens:
        blocks.append({"type": "text", "text": answer.text if done else ""})
    return blocks


def _message(
    job: GenerationJob, rid: str, content: list[dict[str, Any]], stop: str | None, output: int
) -> dict[str, Any]:
    return {
        "id": rid,
        "type": "message",
        "role": "assistant",
        "model": job.model,
        "content": content,
        "stop_reason": stop,
        "stop_sequence": None,
        "usage": {"input_tokens": job.prompt_tokens, "output_tokens": output},
    }


def message_body(job: GenerationJob, rid: str, created: int, answer: Answer) -> bytes:
    blocks = _blocks(answer, call_id("toolu_"), done=True)
    return orjson.dumps(_message(job, rid, blocks, _stop_reason(answer), answer.tokens))


def _event(kind: str, **fields: Any) -> bytes:
    return (
        b"event: " + kind.encode() + b"\ndata: " + orjson.dumps({"type": kind, **fields}) + b"\n\n"
    )


class MessageEvents:
    """The stream of one answer (:class:`~simulator.payloads.StreamEvents`)."""

    done = b""  # Anthropic's streams end with message_stop

    def __init__(
        self, job: GenerationJob, rid: str, created: int, model_json: bytes, answer: Answer
    ) -> None:
        self._job, self._rid, self._answer = job, rid, answer
        self._starts = _blocks(answer, call_id("toolu_"), done=False)
        self._open = -1

    def role(self, choice: int) -> bytes:
        return _event("message_start", message=_message(self._job, self._rid, [], None, 0))

    def _open_next(self) -> bytes:
        out = self._close()
        self._open += 1
        return out + _event(
            "content_block_start", index=self._open, content_block=self._starts[self._open]
        )

    def _close(self) -> bytes:
        if 0 <= self._open < len(self._starts):
            return _event("content_block_stop", index=self._open)
        return b""

    def content(self, choice: int, token_index: int) -> bytes:
        answer = self._answer
        index = token_index - answer.reasoning_tokens
        out = self._open_next() if token_index == 0 or index == 0 else b""
        delta: dict[str, Any]
        if index < 0:
            delta = {"type": "thinking_delta", "thinking": generation.REASONING[token_index]}
        elif answer.call is None:
            delta = {"type": "text_delta", "text": generation.token(index)}
        else:
            fragment = answer.call.fragments[index - 1] if index else ""
            delta = {"type": "input_json_delta", "partial_json": fragment}
        return out + _event("content_block_delta", index=self._open, delta=delta)

    def finish(self, choice: int, reason: str) -> bytes:
        out = self._close()
        self._open = len(self._starts)
        delta = {"stop_reason": _stop_reason(self._answer), "stop_sequence": None}
        usage = {"input_tokens": self._job.prompt_tokens, "output_tokens": self._answer.tokens}
        return out + _event("message_delta", delta=delta, usage=usage) + _event("message_stop")

    def usage(self, prompt_tokens: int, completion_tokens: int) -> bytes:
        return b""
