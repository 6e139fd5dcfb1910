"""``POST /v1/responses`` as recent vLLM serves it: a request read into a
:class:`~simulator.parsing.GenerationJob`, its answer rendered as a ``response`` object or
as the Responses API's stream events.

Read from the request: ``model``, ``input`` (a string or items: the last item, when it is
a user message, is the "last user text" of :mod:`simulator.tools`), ``instructions`` and
every item's text (the prompt estimate), function ``tools``, ``tool_choice``,
``max_output_tokens``, ``stream``, and ``reasoning.effort`` (set and not ``"none"``: the
answer reasons first). The answer echoes ``instructions``, ``tools``, ``tool_choice``,
``temperature``, ``top_p``, ``text``, ``metadata`` and the rest as OpenAI's ``response``
object holds them. Checked lightly: a body that is no object, an ``input`` that is
neither a string nor a list, or a non-integer ``max_output_tokens`` is a 400 in vLLM's
envelope; an unknown model a 404.

Output items, in order: a ``reasoning`` item (one ``reasoning_text`` part), then a
``message`` (one ``output_text`` part) or a ``function_call``. The stream: ``response.created``,
``response.in_progress``, per item ``output_item.added``, its deltas, its ``.done``
events and ``output_item.done``, then ``response.completed`` (``response.incomplete``
when ``max_output_tokens`` cut the answer) whose ``output`` holds every item.
"""

from __future__ import annotations

import os
from typing import Any

import orjson

from simulator import generation
from simulator.generation import Answer, estimate_tokens
from simulator.parsing import GenerationJob, Kind, served_model
from simulator.tools import Choice, Tool, call_id, planned_call
from simulator.validation.errors import bad_request


def _object(data: Any) -> dict[str, Any]:
    if not isinstance(data, dict):
        raise bad_request("The request body must be a JSON object.")
    return data


def _last_user_text(items: Any) -> str | None:
    if isinstance(items, str):
        return items
    last = items[-1] if isinstance(items, list) and items else None
    if not isinstance(last, dict) or last.get("role") != "user":
        return None
    if last.get("type", "message") != "message":
        return None
    return generation.last_text(last.get("content"))


def _tools(values: dict[str, Any]) -> list[Tool]:
    tools = values.get("tools")
    return [
        Tool(t["name"], t.get("parameters"))
        for t in tools if isinstance(t, dict) and t.get("type") == "function"
        and isinstance(t.get("name"), str)
    ] if isinstance(tools, list) else []  # fmt: skip


def _choice(value: Any) -> Choice:
    if isinstance(value, str):
        return value
    if isinstance(value, dict) and value.get("type") == "function":
        return str(value.get("name"))
    return "auto"  # hosted tools, allowed_tools: the function tools are all allowed


def parse_responses(data: Any, models: dict[str, bytes]) -> GenerationJob:
    values = _object(data)
    model = served_model(values, models)
    items = values.get("input")
    if not isinstance(items, str | list):
        raise bad_request("`input` must be a string or a list of input items.")
    max_tokens = values.get("max_output_tokens")
    if max_tokens is not None and (not isinstance(max_tokens, int) or max_tokens < 1):
        raise bad_request("`max_output_tokens` must be a positive integer.")
    reasoning = values.get("reasoning")
    effort = reasoning.get("effort") if isinstance(reasoning, dict) else None
    characters = (
        generation.text_characters(items)
        + generation.text_characters(values.get("instructions"))
        + generation.tools_characters(values.get("tools"))
    )
    return GenerationJob(
        kind=Kind.RESPONSES,
        model=model,
        prompt_tokens=estimate_tokens(characters),
        choices=1,
        max_tokens=max_tokens,
        stream=bool(values.get("stream")),
        include_usage=False,  # the usage is part of response.completed
        call=planned_call(
            _tools(values), _choice(values.get("tool_choice", "auto")), _last_user_text(items)
        ),
        reasoning=effort not in (None, "none"),
        request=values,
    )


def _usage(job: GenerationJob, answer: Answer) -> dict[str, Any]:
    return {
        "input_tokens": job.prompt_tokens,
        # cache_write_tokens: OpenAI's current schema requires it (vLLM has no such count).
        "input_tokens_details": {"cached_tokens": 0, "cache_write_tokens": 0},
        "output_tokens": answer.tokens,
        "output_tokens_details": {"reasoning_tokens": answer.reasoning_tokens},
        "total_tokens": job.prompt_tokens + answer.tokens,
    }


def _response(
    job: GenerationJob, rid: str, created: int, status: str, output: list[dict[str, Any]]
) -> dict[str, Any]:
    request = job.request or {}
    reasoning = _dict(request.get("reasoning"))
    text = _dict(request.get("text"))
    return {
        "id": rid,
        "object": "response",
        "created_at": created,
        "status": status,
        "background": False,
        "error": None,
        "incomplete_details": {"reason": "max_output_tokens"} if status == "incomplete" else None,
        "instructions": request.get("instructions"),
        "max_output_tokens": request.get("max_output_tokens"),
        "model": job.model,
        "output": output,
        "parallel_tool_calls": request.get("parallel_tool_calls", True),
        "previous_response_id": None,
        "reasoning": {"effort": reasoning.get("effort"), "summary": reasoning.get("summary")},
        "store": False,
        "temperature": request.get("temperature", 1.0),
        "text": {"format": {"type": "text"}} | text,
        "tool_choice": request.get("tool_choice", "auto"),
        "tools": request.get("tools") or [],
        "top_p": request.get("top_p", 1.0),
        "truncation": "disabled",
        "metadata": request.get("metadata") or {},
    }


def _dict(value: Any) -> dict[str, Any]:
    return value if isinstance(value, dict) else {}


def _status(answer: Answer) -> str:
    return "incomplete" if answer.finish_reason == "length" else "completed"


class _Items:
    """The answer's output items: their ids, and each one as it stands in progress or done."""

    def __init__(self, answer: Answer) -> None:
        self.answer = answer
        suffix = os.urandom(12).hex()
        self.reasoning_id, self.message_id, self.call_id = (
            f"rs_{suffix}",
            f"msg_{suffix}",
            f"fc_{suffix}",
        )
        self.call_ref = call_id("call_")

    def kinds(self) -> list[str]:
        first = ["reasoning"] if self.answer.reasoning_tokens else []
        if self.answer.call is not None:
            return [*first, "function_call"]
        return [*first, "message"] if self.answer.text_tokens else first

    def item(self, kind: str, *, done: bool) -> dict[str, Any]:
        status = "completed" if done else "in_progress"
        answer = self.answer
        if kind == "reasoning":
            content = [{"type": "reasoning_text", "text": answer.reasoning_text}] if done else []
            return {"id": self.reasoning_id, "type": "reasoning", "status": status,
                    "summary": [], "content": content}  # fmt: skip
        if kind == "function_call":
            call = answer.call
            assert call is not None
            return {"id": self.call_id, "type": "function_call", "status": status,
                    "call_id": self.call_ref, "name": call.name,
                    "arguments": call.arguments if done else ""}  # fmt: skip
        content = [_text_part(answer.text)] if done else []
        return {"id": self.message_id, "type": "message", "status": status,
                "role": "assistant", "content": content}  # fmt: skip

    def output(self) -> list[dict[str, Any]]:
        return [self.item(kind, done=True) for kind in self.kinds()]


def _text_part(text: str) -> dict[str, Any]:
    return {"type": "output_text", "text": text, "annotations": [], "logprobs": []}


def response_body(job: GenerationJob, rid: str, created: int, answer: Answer) -> bytes:
    response = _response(job, rid, created, _status(answer), _Items(answer).output())
    response["usage"] = _usage(job, answer)
    return orjson.dumps(response)


class ResponseEvents:
    """The stream of one answer (:class:`~simulator.payloads.StreamEvents`)."""

    done = b""  # no [DONE]: the Responses API ends with response.completed

    def __init__(
        self, job: GenerationJob, rid: str, created: int, model_json: bytes, answer: Answer
    ) -> None:
        self._job, self._rid, self._created, self._answer = job, rid, created, answer
        self._items = _Items(answer)
        self._kinds = self._items.kinds()
        self._sequence = 0
        self._open = -1  # the output index of the item being streamed

    def _event(self, kind: str, **fields: Any) -> bytes:
        payload = {"type": kind, **fields, "sequence_number": self._sequence}
        self._sequence += 1
        return b"event: " + kind.encode() + b"\ndata: " + orjson.dumps(payload) + b"\n\n"

    def _where(self) -> dict[str, Any]:
        kind = self._kinds[self._open]
        item_id = self._items.item(kind, done=False)["id"]
        where: dict[str, Any] = {"item_id": item_id, "output_index": self._open}
        if kind != "function_call":
            where["content_index"] = 0
        return where

    def role(self, choice: int) -> bytes:
        response = _response(self._job, self._rid, self._created, "in_progress", [])
        return self._event("response.created", response=response) + self._event(
            "response.in_progress", response=response
        )

    def _open_next(self) -> bytes:
        out = self._close()
        self._open += 1
        kind = self._kinds[self._open]
        item = self._items.item(kind, done=False)
        out += self._event("response.output_item.added", output_index=self._open, item=item)
        if kind == "message":
            part = _text_part("")
            out += self._event("response.content_part.added", **self._where(), part=part)
        return out

    def _close(self) -> bytes:
        if self._open < 0 or self._open >= len(self._kinds):
            return b""
        kind = self._kinds[self._open]
        item = self._items.item(kind, done=True)
        where = self._where()
        if kind == "reasoning":
            out = self._event(
                "response.reasoning_text.done", **where, text=item["content"][0]["text"]
            )
        elif kind == "function_call":
            out = self._event("response.function_call_arguments.done", **where,
                              name=item["name"], arguments=item["arguments"])  # fmt: skip
        else:
            part = item["content"][0]
            out = self._event("response.output_text.done", **where, text=part["text"],
                              logprobs=[])  # fmt: skip
            out += self._event("response.content_part.done", **where, part=part)
        return out + self._event("response.output_item.done", output_index=self._open, item=item)

    def content(self, choice: int, token_index: int) -> bytes:
        answer = self._answer
        index = token_index - answer.reasoning_tokens
        out = b""
        if token_index == 0 or index == 0:
            out = self._open_next()
        if index < 0:
            delta = generation.REASONING[token_index]
            return out + self._event("response.reasoning_text.delta", **self._where(), delta=delta)
        if answer.call is None:
            delta = generation.token(index)
            return out + self._event("response.output_text.delta", **self._where(), delta=delta,
                                     logprobs=[])  # fmt: skip
        if index == 0:
            return out  # the call's name: its output_item.added
        fragment = answer.call.fragments[index - 1]
        return out + self._event(
            "response.function_call_arguments.delta", **self._where(), delta=fragment
        )

    def finish(self, choice: int, reason: str) -> bytes:
        out = self._close()
        self._open = len(self._kinds)
        status = _status(self._answer)
        response = _response(self._job, self._rid, self._created, status, self._items.output())
        response["usage"] = _usage(self._job, self._answer)
        return out + self._event(f"response.{status}", response=response)

    def usage(self, prompt_tokens: int, completion_tokens: int) -> bytes:
        return b""
