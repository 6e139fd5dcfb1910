"""Translating Anthropic's Messages API to OpenAI chat completions, and the answers back.

The gateway's public ``/v1/messages`` goes as is to deployments that speak Messages; for
every other one (vLLM, the simulator, OpenAI) the request becomes a chat completion here,
and the answer, whole or streamed, becomes Anthropic's ``message`` or its stream events.
Pure data in, data out, no I/O. The other direction (OpenAI chat in, Anthropic upstream)
is :mod:`router.providers.anthropic_format`.

Request (:func:`chat_request`). What chat cannot express is refused with 400
``invalid_request_error`` naming the field (``param``, e.g. ``messages[3].content[1]``);
what chat has no use for is dropped:

- ``system``, a string or text blocks -> one leading system message, blocks joined by a
  blank line, less Claude Code's attribution block (``x-anthropic-billing-header:
  cc_version=<version>.<hash>; ...``, which ``CLAUDE_CODE_ATTRIBUTION_HEADER=0`` omits):
  it is not meant for the model, and as the prompt's first bytes, changing from one
  conversation to the next, it would keep vLLM's prefix cache from sharing the system
  prompt and tools across conversations. ``role: "system"`` entries in ``messages`` (Claude Code's
  mid-conversation system messages) -> a system message at that place: chat accepts
  system messages anywhere (how a model's chat template renders one mid-conversation is
  the template's affair).
- ``user``/``assistant`` content, a string or blocks: ``text`` -> a text part; ``image``
  (``base64`` -> a data URL, ``url``) -> an ``image_url`` part, a ``file`` source -> 400;
  ``document`` with a ``text`` source -> a text part, with a ``content`` source -> its
  parts (title first, as a text part), a PDF or file -> 400 (chat cannot read one);
  ``search_result`` -> a text part (title, source, texts). Assistant text blocks join
  into one content string (blank line between).
- ``tool_use`` (assistant) -> ``tool_calls`` (``arguments``: the input as JSON);
  ``tool_result`` (user) -> one ``tool`` message each, before the turn's other parts
  (chat wants results right after the calls); content a string or its text blocks joined;
  ``is_error: true`` -> the content prefixed ``Error: `` (chat has no flag for it); images
  in a result (chat's tool messages are text only) go into the user message after the
  results.
- ``thinking``/``redacted_thinking`` in assistant history -> dropped (only the model that
  wrote them could read them back); an assistant turn left empty is dropped. Server tool
  blocks (``server_tool_use``, ``web_search_tool_result``...) and any other block type ->
  400. ``cache_control`` anywhere -> ignored.
- ``tools``: custom tools -> function tools, ``parameters`` = ``input_schema`` as is
  (``$schema`` and ``additionalProperties`` included: both OpenAI and vLLM take any
  JSON Schema there, and no backend here is known to refuse them);
  ``strict`` dropped (vLLM ignores it, OpenAI's strict mode refuses schemas Anthropic
  takes). Anthropic's own tool types (``web_search_*``, ``web_fetch_*``, ``bash_*``,
  ``text_editor_*``, ``computer_*``, ``code_execution_*``, ``memory_*``, MCP toolsets)
  -> dropped, never refused: a chat backend can neither run them nor knows their schemas.
- ``tool_choice``: ``auto`` -> ``"auto"``, ``any`` -> ``"required"``, ``tool`` -> that
  function (400 naming ``tool_choice.name`` if no remaining tool has the name), ``none`` ->
  ``"none"``; ``disable_parallel_tool_use: true`` -> ``parallel_tool_calls: false``. Both
  only when tools remain (OpenAI refuses them without tools).
- ``max_tokens`` -> ``max_completion_tokens``; required, as Anthropic has it (400 naming
  ``max_tokens``). ``stop_sequences`` -> ``stop``, all of them: vLLM takes any number,
  OpenAI refuses more than 4 with a 400 the caller sees (cutting the list would change
  what stops the answer). ``temperature`` (Anthropic's 0..1 fits chat's 0..2), ``top_p``,
  ``top_k`` -> the same names (``top_k`` is vLLM's extension: OpenAI refuses it with 400).
  ``metadata.user_id`` -> ``user``, verbatim (Claude Code's is a JSON-encoded string).
  ``stream: true`` -> ``stream`` and ``stream_options.include_usage``.
- Reasoning: ``output_config.effort`` -> ``reasoning_effort`` (``low``, ``medium``,
  ``high``; ``xhigh`` and ``max`` -> ``high``: vLLM takes only those three); otherwise
  ``thinking: {type: enabled, budget_tokens}`` -> ``low`` below 4,096 tokens, ``medium``
  below 16,384, ``high`` from there; ``adaptive`` and ``disabled`` -> nothing.
- ``context_management``, ``service_tier``, ``container``, ``mcp_servers`` and any other
  field -> dropped.

Answer (:func:`message_object`, :class:`MessagesEvents`), whole and streamed alike:

- Blocks, in this order: the reasoning text (``reasoning`` or ``reasoning_content``) -> a
  ``thinking`` block with ``signature: ""`` (the SDK's type requires the field; no chat
  backend signs), only when the request enabled thinking (``enabled`` or ``adaptive``):
  clients that did not ask read ``content[0].text``. Content (and a ``refusal`` text) ->
  a ``text`` block. Each tool call -> a ``tool_use`` block, named as the call's first
  delta names it (OpenAI and vLLM send the whole name there): ``id`` the call's (any
  character outside ``[A-Za-z0-9_-]``, which Anthropic refuses in ids, becomes ``_``) or
  ``toolu_<message>_<n>``; ``input`` the parsed arguments, ``{}`` if empty, and
  ``{"_raw": "<arguments>"}`` if they are not a JSON object (the client's schema check
  then tells the model). A stream passes argument fragments on as they come, so there
  arguments that are not JSON reach the client as sent (its SDK fails on them).
- ``stop_reason``: ``max_tokens`` for ``length`` (also when cut inside a tool call, as
  Anthropic reports it); ``refusal`` for ``content_filter``; ``tool_use`` whenever a tool
  call came, whatever the finish reason said (backends say ``stop``: Bifrost #3638,
  LiteLLM #34692); ``stop_sequence``, with ``stop_sequence`` set, when the backend names
  the stop string that matched (vLLM's ``stop_reason``) and it is one of the request's;
  otherwise ``end_turn``. Nothing unknown becomes ``max_tokens``: Claude Code answers that
  with three "resume" retries and an error.
- ``usage`` (:func:`messages_usage`): ``input_tokens`` = prompt - cached,
  ``cache_read_input_tokens`` = cached, ``cache_creation_input_tokens`` 0 (chat backends
  report no cache writes), ``output_tokens`` = completion (reasoning included);
  ``output_tokens_details.thinking_tokens`` when the backend counted reasoning tokens.
- ``model``: the request's (the name the client asked for, as Anthropic echoes it).

Stream events: ``message_start`` (content ``[]``, stop fields null, ``input_tokens`` =
the prompt estimate, ``output_tokens`` 1 as Anthropic sends), one ``ping``, then the
blocks strictly one after another - ``content_block_start`` (index 0, 1, ...), its
deltas (``thinking_delta``, ``text_delta``, ``input_json_delta``), ``content_block_stop``
- a new block whenever the kind of delta changes or a new tool call starts (a new chat
tool ``index``, or a new ``id``); then ``message_delta`` (stop reason, stop sequence,
cumulative usage) and ``message_stop``. Every block opened is closed exactly once. A tool
call resumed after another one began cannot be expressed (blocks do not interleave): the
stream fails, which Claude Code answers with a retry and, at last, a whole answer.
Chat's ``data: [DONE]``, usage-only chunks, choices other than 0 and SSE comments
produce nothing; an unreadable event or an error event raises
:class:`~router.providers.errors.ProviderUnavailable` (the caller then ends the stream
with :meth:`MessagesEvents.fail`).

``count_input_tokens``: the estimate for ``count_tokens``; its rules and how far it can
be off are in its docstring.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Any

import orjson

from gateway_shared.tokens import CHARS_PER_TOKEN, MESSAGE_OVERHEAD
from router.providers.base import Usage
from router.providers.errors import ProviderRejected, ProviderUnavailable

__all__ = [
    "MessagesEvents",
    "chat_request",
    "count_input_tokens",
    "message_object",
    "messages_usage",
]

EFFORTS = {"low": "low", "medium": "medium", "high": "high", "xhigh": "high", "max": "high"}
# thinking.budget_tokens below each bound -> that reasoning_effort; "high" above.
BUDGET_EFFORTS = ((4096, "low"), (16384, "medium"))
_NOT_ID = re.compile(r"[^A-Za-z0-9_-]")
# Claude Code's first system block: attribution for Anthropic's billing, not instructions.
BILLING_BLOCK = "x-anthropic-billing-header:"


def _obj(value: Any) -> dict[str, Any]:
    return value if isinstance(value, dict) else {}


def _rejected(param: str, message: str) -> ProviderRejected:
    return ProviderRejected(f"{param}: {message}", 400, "invalid_request_error", param)


# --- request ---------------------------------------------------------------------------


def _text_blocks(value: Any, param: str) -> str:
    """A system prompt: a string or text blocks, joined by a blank line (Claude Code's
    attribution block left out)."""
    if isinstance(value, str):
        return value
    if not isinstance(value, list):
        raise _rejected(param, "must be a string or a list of text blocks")
    texts = []
    for k, block in enumerate(value):
        if not (isinstance(block, dict) and block.get("type") == "text"):
            raise _rejected(f"{param}[{k}]", "only text blocks are accepted here")
        text = _string(block.get("text"), f"{param}[{k}].text")
        if not text.startswith(BILLING_BLOCK):
            texts.append(text)
    return "\n\n".join(texts)


def _string(value: Any, param: str) -> str:
    if not isinstance(value, str):
        raise _rejected(param, "must be a string")
    return value


def _text(text: str) -> dict[str, Any]:
    return {"type": "text", "text": text}


def _image(block: dict[str, Any], param: str) -> dict[str, Any]:
    source = _obj(block.get("source"))
    kind = source.get("type")
    if kind == "base64":
        data = _string(source.get("data"), f"{param}.source.data")
        url = f"data:{source.get('media_type') or 'image/png'};base64,{data}"
    elif kind == "url":
        url = _string(source.get("url"), f"{param}.source.url")
    else:
        raise _rejected(f"{param}.source", f"image sources of type {kind!r} cannot be sent")
    return {"type": "image_url", "image_url": {"url": url}}


def _document(block: dict[str, Any], param: str) -> list[dict[str, Any]]:
    source = _obj(block.get("source"))
    kind = source.get("type")
    parts: list[dict[str, Any]]
    if kind == "text":
        parts = [_text(_string(source.get("data"), f"{param}.source.data"))]
    elif kind == "content":
        inner = source.get("content")
        if isinstance(inner, str):
            parts = [_text(inner)]
        elif isinstance(inner, list):
            parts = [p for k, b in enumerate(inner) for p in _part(b, f"{param}.source[{k}]")]
        else:
            raise _rejected(f"{param}.source.content", "must be a string or a list of blocks")
    else:
        raise _rejected(param, "PDF and file documents cannot be sent to this model")
    title = block.get("title")
    return [_text(title), *parts] if isinstance(title, str) and title else parts


def _part(block: Any, param: str) -> list[dict[str, Any]]:
    """Chat content parts for one content block of a user turn."""
    kind = block.get("type") if isinstance(block, dict) else None
    if not isinstance(block, dict):
        raise _rejected(param, "must be a content block")
    if kind == "text":
        return [_text(_string(block.get("text"), f"{param}.text"))]
    if kind == "image":
        return [_image(block, param)]
    if kind == "document":
        return _document(block, param)
    if kind == "search_result":
        inner = block.get("content")
        texts = [
            b["text"]
            for b in (inner if isinstance(inner, list) else [])
            if isinstance(b, dict) and isinstance(b.get("text"), str)
        ]
        head = [s for s in (block.get("title"), block.get("source")) if isinstance(s, str) and s]
        return [_text("\n\n".join([*head, *texts]))]
    raise _rejected(param, f"content blocks of type {kind!r} cannot be sent to this model")


def _tool_result(block: dict[str, Any], param: str) -> tuple[dict[str, Any], list[Any]]:
    """A ``tool`` message, and the images of the result (for the user message after)."""
    use_id = _string(block.get("tool_use_id"), f"{param}.tool_use_id")
    content = block.get("content")
    texts: list[str] = []
    images: list[dict[str, Any]] = []
    if isinstance(content, str):
        texts.append(content)
    elif isinstance(content, list):
        for k, inner in enumerate(content):
            for part in _part(inner, f"{param}.content[{k}]"):
                if part["type"] == "text":
                    texts.append(part["text"])
                else:
                    images.append(part)
    elif content is not None:
        raise _rejected(f"{param}.content", "must be a string or a list of blocks")
    text = "\n\n".join(texts)
    if block.get("is_error") is True:
        text = f"Error: {text}" if text else "Error"
    return {"role": "tool", "tool_call_id": use_id, "content": text}, images


def _user(content: Any, param: str) -> list[dict[str, Any]]:
    if isinstance(content, str):
        return [{"role": "user", "content": content}]
    if not isinstance(content, list):
        raise _rejected(f"{param}.content", "must be a string or a list of blocks")
    results: list[dict[str, Any]] = []
    parts: list[dict[str, Any]] = []
    for k, block in enumerate(content):
        at = f"{param}.content[{k}]"
        if isinstance(block, dict) and block.get("type") == "tool_result":
            result, images = _tool_result(block, at)
            results.append(result)
            parts.extend(images)
        else:
            parts.extend(_part(block, at))
    return [*results, {"role": "user", "content": parts}] if parts else results


def _assistant(content: Any, param: str) -> list[dict[str, Any]]:
    if isinstance(content, str):
        return [{"role": "assistant", "content": content}]
    if not isinstance(content, list):
        raise _rejected(f"{param}.content", "must be a string or a list of blocks")
    texts: list[str] = []
    calls: list[dict[str, Any]] = []
    for k, block in enumerate(content):
        at = f"{param}.content[{k}]"
        kind = block.get("type") if isinstance(block, dict) else None
        if kind in ("thinking", "redacted_thinking"):
            continue
        if not isinstance(block, dict) or kind not in ("text", "tool_use"):
            raise _rejected(at, f"content blocks of type {kind!r} cannot be sent to this model")
        if kind == "text":
            texts.append(_string(block.get("text"), f"{at}.text"))
            continue
        arguments = block.get("input", {})
        if not isinstance(arguments, dict):
            raise _rejected(f"{at}.input", "must be an object")
        function = {"name": _string(block.get("name"), f"{at}.name")}
        function["arguments"] = orjson.dumps(arguments).decode()
        call_id = _string(block.get("id"), f"{at}.id")
        calls.append({"id": call_id, "type": "function", "function": function})
    if not texts and not calls:
        return []
    message: dict[str, Any] = {"role": "assistant", "content": "\n\n".join(texts) or None}
    if calls:
        message["tool_calls"] = calls
    return [message]


def _messages(body: dict[str, Any]) -> list[dict[str, Any]]:
    messages = body.get("messages")
    if not isinstance(messages, list) or not messages:
        raise _rejected("messages", "must be a non-empty list")
    out: list[dict[str, Any]] = []
    if body.get("system") is not None and (system := _text_blocks(body["system"], "system")):
        out.append({"role": "system", "content": system})
    for i, message in enumerate(messages):
        param = f"messages[{i}]"
        if not isinstance(message, dict):
            raise _rejected(param, "must be an object")
        role, content = message.get("role"), message.get("content")
        if role == "user":
            out.extend(_user(content, param))
        elif role == "assistant":
            out.extend(_assistant(content, param))
        elif role == "system":
            out.append({"role": "system", "content": _text_blocks(content, f"{param}.content")})
        else:
            raise _rejected(f"{param}.role", f"unexpected role {role!r}")
    return out


def _tools(tools: Any) -> list[dict[str, Any]]:
    if tools is None:
        return []
    if not isinstance(tools, list):
        raise _rejected("tools", "must be a list")
    out = []
    for k, tool in enumerate(tools):
        if not isinstance(tool, dict):
            raise _rejected(f"tools[{k}]", "must be an object")
        if tool.get("type") not in (None, "custom"):
            continue  # Anthropic's own tools: a chat backend cannot run them
        function: dict[str, Any] = {"name": _string(tool.get("name"), f"tools[{k}].name")}
        if isinstance(tool.get("description"), str) and tool["description"]:
            function["description"] = tool["description"]
        schema = tool.get("input_schema")
        function["parameters"] = schema if isinstance(schema, dict) else {"type": "object"}
        out.append({"type": "function", "function": function})
    return out


def _tool_choice(choice: Any, tools: list[dict[str, Any]], out: dict[str, Any]) -> None:
    if choice is None or not tools:
        return
    kind = choice.get("type") if isinstance(choice, dict) else None
    if kind == "auto":
        out["tool_choice"] = "auto"
    elif kind == "any":
        out["tool_choice"] = "required"
    elif kind == "none":
        out["tool_choice"] = "none"
    elif kind == "tool" and isinstance(choice, dict):
        name = choice.get("name")
        if name not in {t["function"]["name"] for t in tools}:
            raise _rejected("tool_choice.name", f"no tool named {name!r} that this model can call")
        out["tool_choice"] = {"type": "function", "function": {"name": name}}
    else:
        raise _rejected("tool_choice", f"unknown tool_choice type {kind!r}")
    if isinstance(choice, dict) and choice.get("disable_parallel_tool_use") is True:
        out["parallel_tool_calls"] = False


def _reasoning_effort(body: dict[str, Any]) -> str | None:
    config = body.get("output_config")
    effort = config.get("effort") if isinstance(config, dict) else None
    if isinstance(effort, str) and effort in EFFORTS:
        return EFFORTS[effort]
    thinking = body.get("thinking")
    if not isinstance(thinking, dict) or thinking.get("type") != "enabled":
        return None
    budget = thinking.get("budget_tokens")
    if not isinstance(budget, int):
        return None
    return next((name for bound, name in BUDGET_EFFORTS if budget < bound), "high")


def _number(value: Any) -> bool:
    return isinstance(value, int | float) and not isinstance(value, bool)


def chat_request(body: dict[str, Any]) -> dict[str, Any]:
    """A chat completions request for a Messages API request. Raises
    ProviderRejected(message, 400, "invalid_request_error", param) naming the field for
    what chat cannot express."""
    max_tokens = body.get("max_tokens")
    if max_tokens is None:
        raise _rejected("max_tokens", "Field required")
    if not isinstance(max_tokens, int) or isinstance(max_tokens, bool) or max_tokens < 1:
        raise _rejected("max_tokens", "must be a positive integer")
    out: dict[str, Any] = {}
    if body.get("model") is not None:
        out["model"] = body["model"]
    out["messages"] = _messages(body)
    out["max_completion_tokens"] = max_tokens
    if tools := _tools(body.get("tools")):
        out["tools"] = tools
        _tool_choice(body.get("tool_choice"), tools, out)
    stops = body.get("stop_sequences")
    if stops:
        if not isinstance(stops, list) or not all(isinstance(s, str) for s in stops):
            raise _rejected("stop_sequences", "must be a list of strings")
        out["stop"] = list(stops)
    for name in ("temperature", "top_p", "top_k"):
        if _number(body.get(name)):
            out[name] = body[name]
    metadata = body.get("metadata")
    if isinstance(metadata, dict) and isinstance(metadata.get("user_id"), str):
        out["user"] = metadata["user_id"]
    if effort := _reasoning_effort(body):
        out["reasoning_effort"] = effort
    if body.get("stream") is True:
        out["stream"] = True
        out["stream_options"] = {"include_usage": True}
    return out


# --- answers ---------------------------------------------------------------------------


def messages_usage(usage: Usage) -> dict[str, Any]:
    """{input_tokens, output_tokens, cache_read_input_tokens, cache_creation_input_tokens: 0}"""
    cached = min(max(usage.cached_tokens, 0), usage.prompt_tokens)
    out: dict[str, Any] = {
        "input_tokens": usage.prompt_tokens - cached,
        "output_tokens": usage.completion_tokens,
        "cache_read_input_tokens": cached,
        "cache_creation_input_tokens": 0,
    }
    if usage.reasoning_tokens > 0:
        out["output_tokens_details"] = {"thinking_tokens": usage.reasoning_tokens}
    return out


def _thinking_wanted(request: dict[str, Any]) -> bool:
    thinking = request.get("thinking")
    return isinstance(thinking, dict) and thinking.get("type") in ("enabled", "adaptive")


def _model(request: dict[str, Any], chat: dict[str, Any]) -> str:
    model = request.get("model")
    return model if isinstance(model, str) else str(chat.get("model") or "")


def _stop(
    finish: Any, matched: Any, tool_calls: bool, request: dict[str, Any]
) -> tuple[str, str | None]:
    """Anthropic's ``stop_reason`` and ``stop_sequence`` for how a chat answer ended."""
    if finish == "length":
        return "max_tokens", None
    if finish == "content_filter":
        return "refusal", None
    if tool_calls:
        return "tool_use", None
    stops = request.get("stop_sequences")
    if isinstance(matched, str) and isinstance(stops, list) and matched in stops:
        return "stop_sequence", matched
    return "end_turn", None


def _tool_id(raw: Any, message_id: str, n: int) -> str:
    if isinstance(raw, str) and raw:
        return _NOT_ID.sub("_", raw)
    return f"toolu_{_NOT_ID.sub('_', message_id.removeprefix('msg_'))}_{n}"


def _tool_input(arguments: Any) -> dict[str, Any]:
    if isinstance(arguments, dict):
        return arguments
    if not isinstance(arguments, str) or not arguments.strip():
        return {}
    try:
        parsed = orjson.loads(arguments)
    except orjson.JSONDecodeError:
        return {"_raw": arguments}
    return parsed if isinstance(parsed, dict) else {"_raw": arguments}


def _text_of(value: Any) -> str:
    if isinstance(value, str):
        return value
    if isinstance(value, list):
        return "".join(
            p["text"] for p in value if isinstance(p, dict) and isinstance(p.get("text"), str)
        )
    return ""


def message_object(
    chat: dict[str, Any], request: dict[str, Any], *, message_id: str, usage: Usage
) -> dict[str, Any]:
    """Anthropic's `message` object for a whole `chat.completion` answer (OpenAI shape, as
    the router assembles it; the message may carry `reasoning`/`reasoning_content`)."""
    choices = chat.get("choices")
    choice = _obj(choices[0] if isinstance(choices, list) and choices else None)
    message = _obj(choice.get("message"))
    content: list[dict[str, Any]] = []
    reasoning = _text_of(message.get("reasoning") or message.get("reasoning_content"))
    if reasoning and _thinking_wanted(request):
        content.append({"type": "thinking", "thinking": reasoning, "signature": ""})
    if text := _text_of(message.get("content")) + _text_of(message.get("refusal")):
        content.append(_text(text))
    calls = message.get("tool_calls")
    calls = [c for c in calls if isinstance(c, dict)] if isinstance(calls, list) else []
    for n, call in enumerate(calls):
        function = _obj(call.get("function"))
        content.append(
            {
                "type": "tool_use",
                "id": _tool_id(call.get("id"), message_id, n),
                "name": str(function.get("name") or ""),
                "input": _tool_input(function.get("arguments")),
            }
        )
    reason, sequence = _stop(
        choice.get("finish_reason"), choice.get("stop_reason"), bool(calls), request
    )
    return {
        "id": message_id,
        "type": "message",
        "role": "assistant",
        "model": _model(request, chat),
        "content": content,
        "stop_reason": reason,
        "stop_sequence": sequence,
        "usage": messages_usage(usage),
    }


def _event(kind: str, payload: dict[str, Any]) -> bytes:
    return b"event: " + kind.encode() + b"\ndata: " + orjson.dumps(payload) + b"\n\n"


def _data(event: bytes) -> bytes | None:
    lines = [line[5:] for line in event.split(b"\n") if line.startswith(b"data:")]
    return b"\n".join(lines) if lines else None


@dataclass(slots=True)
class _Block:
    kind: str  # "thinking" | "text" | "tool_use"
    index: int
    tool: int | None = None  # the chat tool call's index
    call_id: str | None = None  # the chat tool call's id, as the backend sent it


class MessagesEvents:
    """Chat completion chunk events (OpenAI SSE `data: {...}` bytes, one whole event per
    call) in, Anthropic SSE events out (`event: <type>\\ndata: <json>\\n\\n`).

    Call :meth:`start` once first, :meth:`feed` with each chat event, then exactly one of
    :meth:`finish` (the stream ended) or :meth:`fail` (it broke); after either, every call
    returns nothing.
    """

    def __init__(self, request: dict[str, Any], message_id: str, prompt_tokens: int) -> None:
        self._request = request
        self._id = message_id
        self._prompt_tokens = prompt_tokens
        self._thinking = _thinking_wanted(request)
        self._open: _Block | None = None
        self._blocks = 0
        self._tool_calls = 0
        # Chat tool call indexes and ids already given a block.
        self._tool_indexes: set[int] = set()
        self._tool_ids: set[str] = set()
        self._finish: Any = None
        self._matched: Any = None
        self._done = False

    def start(self) -> list[bytes]:
        message: dict[str, Any] = {
            "id": self._id,
            "type": "message",
            "role": "assistant",
            "model": _model(self._request, {}),
            "content": [],
            "stop_reason": None,
            "stop_sequence": None,
            "usage": {
                "input_tokens": self._prompt_tokens,
                "cache_creation_input_tokens": 0,
                "cache_read_input_tokens": 0,
                "output_tokens": 1,
            },
        }
        return [
            _event("message_start", {"type": "message_start", "message": message}),
            _event("ping", {"type": "ping"}),
        ]

    def feed(self, event: bytes) -> list[bytes]:
        data = _data(event)
        if self._done or data is None or data.strip() == b"[DONE]":
            return []
        try:
            payload = orjson.loads(data)
        except orjson.JSONDecodeError:
            raise ProviderUnavailable(
                "The model provider sent an unreadable stream event."
            ) from None
        if not isinstance(payload, dict):
            return []
        choices = payload.get("choices")
        if "error" in payload and not choices:
            raise ProviderUnavailable("The model provider reported an error in its stream.")
        out: list[bytes] = []
        for choice in choices if isinstance(choices, list) else []:
            if isinstance(choice, dict) and choice.get("index", 0) == 0:
                out.extend(self._choice(choice))
        return out

    def finish(self, usage: Usage) -> list[bytes]:
        if self._done:
            return []
        self._done = True
        out = self._close()
        reason, sequence = _stop(self._finish, self._matched, self._tool_calls > 0, self._request)
        delta = {"stop_reason": reason, "stop_sequence": sequence}
        out.append(
            _event(
                "message_delta",
                {"type": "message_delta", "delta": delta, "usage": messages_usage(usage)},
            )
        )
        out.append(_event("message_stop", {"type": "message_stop"}))
        return out

    def fail(self, error_type: str, message: str) -> list[bytes]:
        if self._done:
            return []
        self._done = True
        error = {"type": "error", "error": {"type": error_type, "message": message}}
        return [_event("error", error)]

    def _choice(self, choice: dict[str, Any]) -> list[bytes]:
        out: list[bytes] = []
        delta = _obj(choice.get("delta"))
        reasoning = delta.get("reasoning") or delta.get("reasoning_content")
        if self._thinking and isinstance(reasoning, str) and reasoning:
            out.extend(self._delta("thinking", {"type": "thinking_delta", "thinking": reasoning}))
        for key in ("content", "refusal"):
            if isinstance(text := delta.get(key), str) and text:
                out.extend(self._delta("text", {"type": "text_delta", "text": text}))
        calls = delta.get("tool_calls")
        for call in calls if isinstance(calls, list) else []:
            if isinstance(call, dict):
                out.extend(self._tool_delta(call))
        if choice.get("finish_reason"):
            self._finish = choice["finish_reason"]
        if choice.get("stop_reason") is not None:
            self._matched = choice["stop_reason"]
        return out

    def _close(self) -> list[bytes]:
        if self._open is None:
            return []
        index, self._open = self._open.index, None
        return [_event("content_block_stop", {"type": "content_block_stop", "index": index})]

    def _begin(self, block: _Block, content_block: dict[str, Any]) -> list[bytes]:
        out = self._close()
        self._open = block
        self._blocks += 1
        start = {
            "type": "content_block_start",
            "index": block.index,
            "content_block": content_block,
        }
        out.append(_event("content_block_start", start))
        return out

    def _emit(self, index: int, delta: dict[str, Any]) -> bytes:
        return _event(
            "content_block_delta", {"type": "content_block_delta", "index": index, "delta": delta}
        )

    def _delta(self, kind: str, delta: dict[str, Any]) -> list[bytes]:
        out: list[bytes] = []
        block = self._open
        if block is None or block.kind != kind:
            block = _Block(kind, self._blocks)
            empty = {"type": "thinking", "thinking": "", "signature": ""}
            out.extend(self._begin(block, empty if kind == "thinking" else _text("")))
        out.append(self._emit(block.index, delta))
        return out

    def _tool_delta(self, call: dict[str, Any]) -> list[bytes]:
        index = call.get("index") if isinstance(call.get("index"), int) else None
        call_id = call.get("id") if isinstance(call.get("id"), str) and call.get("id") else None
        function = _obj(call.get("function"))
        out: list[bytes] = []
        block = self._open
        if block is None or block.kind != "tool_use" or not _same_call(block, index, call_id):
            if call_id in self._tool_ids or (call_id is None and index in self._tool_indexes):
                raise ProviderUnavailable("The model provider interleaved its tool calls.")
            if index is not None:
                self._tool_indexes.add(index)
            if call_id is not None:
                self._tool_ids.add(call_id)
            block = _Block("tool_use", self._blocks, index, call_id)
            content_block = {
                "type": "tool_use",
                "id": _tool_id(call_id, self._id, self._tool_calls),
                "name": str(function.get("name") or ""),
                "input": {},
            }
            self._tool_calls += 1
            out.extend(self._begin(block, content_block))
        arguments = function.get("arguments")
        if isinstance(arguments, str) and arguments:
            out.append(
                self._emit(block.index, {"type": "input_json_delta", "partial_json": arguments})
            )
        return out


def _same_call(block: _Block, index: int | None, call_id: str | None) -> bool:
    """A tool call delta continues the open block: the same id where both have one, else
    the same index (or none)."""
    if call_id is not None and block.call_id is not None:
        return call_id == block.call_id
    return index is None or index == block.tool


# --- count_tokens ----------------------------------------------------------------------

# Characters from U+2E80 on (CJK, kana, Hangul, emoji...) count three: one or two of them
# make a token, where four Latin characters do.
_WIDE = re.compile(r"[\u2e80-\U0010ffff]")
WIDE_WEIGHT = 3
# An image: Anthropic's count for one scaled to its ~1.15 megapixel limit (w * h / 750).
IMAGE_TOKENS = 1600
# A base64 PDF: decoded bytes per token, a loose guess (text PDFs run ~2,000 tokens a page).
PDF_BYTES_PER_TOKEN = 16
# Tools: the framing chat templates put around a tool list (Qwen2.5's, Llama 3.1's
# instructions run ~100 tokens) and around each tool's JSON.
TOOLS_OVERHEAD = 100
TOOL_OVERHEAD = 15


def _units(text: str) -> int:
    if text.isascii():
        return len(text)
    return len(text) + (WIDE_WEIGHT - 1) * len(_WIDE.findall(text))


def _json_units(value: Any) -> int:
    return _units(orjson.dumps(value).decode())


def _content_cost(content: Any) -> tuple[int, int]:
    """Character units and flat tokens of a content value (string or blocks)."""
    if isinstance(content, str):
        return _units(content), 0
    units = tokens = 0
    for block in content if isinstance(content, list) else []:
        kind = block.get("type") if isinstance(block, dict) else None
        if not isinstance(block, dict) or kind in ("thinking", "redacted_thinking"):
            continue  # earlier turns' thinking is not counted (Anthropic's rule)
        source = _obj(block.get("source"))
        if kind == "text":
            units += _units(_text_of([block]))
        elif kind == "image":
            tokens += IMAGE_TOKENS
        elif kind == "tool_use":
            units += _json_units([block.get("id"), block.get("name"), block.get("input")])
            tokens += MESSAGE_OVERHEAD
        elif kind in ("tool_result", "search_result"):
            inner_units, inner_tokens = _content_cost(block.get("content") or "")
            head = [block.get(k) for k in ("tool_use_id", "title", "source") if k in block]
            units += inner_units + _json_units(head)
            tokens += inner_tokens + MESSAGE_OVERHEAD
        elif kind == "document" and source.get("type") == "base64":
            data = source.get("data")
            tokens += (len(data) * 3 // 4) // PDF_BYTES_PER_TOKEN if isinstance(data, str) else 0
        elif kind == "document" and source.get("type") in ("text", "content"):
            inner = source.get("data") if source.get("type") == "text" else source.get("content")
            inner_units, inner_tokens = _content_cost(inner or "")
            units += inner_units + _units(str(block.get("title") or ""))
            tokens += inner_tokens
        else:  # server tool blocks, URL or file documents: their JSON stands in
            units += _json_units(block)
    return units, tokens


def count_input_tokens(body: dict[str, Any]) -> int:
    """The estimate for count_tokens when no tokenizer endpoint is available: the text of
    system, messages (all block kinds: text, tool_use input JSON, tool_result content), and
    tools (name, description, input_schema JSON), with per-message and per-tool framing
    overheads.

    The rule is :mod:`gateway_shared.tokens`' (characters / 4, ``MESSAGE_OVERHEAD`` per
    message, tool calls and results each counting as one), extended: a character from
    U+2E80 on (CJK, kana, Hangul, emoji) counts as 3; JSON (tool inputs, schemas) is
    counted compact; an image is 1,600 tokens, a base64 PDF its decoded bytes / 16, a
    tool list 100 tokens plus 15 per tool; thinking blocks in history are not counted.

    How far it is off, text alone (framing aside), measured offline against four real
    tokenizers - OpenAI's cl100k and o200k, Llama 3's and Qwen3's (the ``quicktok-v1``
    package embeds their vocabularies; its cl100k counts equal ``bpe-openai``'s) - as
    estimate / real - 1:

    - Claude Code's whole request (73k characters of English prompt, tool descriptions
      and JSON schemas): +8..+9%. English prose and Markdown, compact JSON, Python source:
      +6..+11% (these run 4.2-4.4 characters a token).
    - Indented JSON -4..-7%; shell output (paths, columns, digits) -26..-36%.
    - German, French -2..-16%; Russian -7..-32%.
    - Chinese, Japanese -44..+5% (Qwen3 -15..+5%), where characters / 4 alone would be
      -50..-68%; Korean -20..+41%; emoji -17..-41%.
    - Hindi, Thai, Arabic -10..-75%: the worst (Hindi on cl100k and Qwen3) counts a
      quarter of the real tokens.

    Not measured, as no tokenizer for it installs offline: Claude's own, reported to need
    more tokens than these for the same text (the estimate would run lower against it).
    Images, PDFs and the framing constants are guesses: an image really costs from under
    100 to ~1,600 tokens, a PDF page 1,500 to 3,000 plus its image, and each chat
    template frames messages and tools its own way.
    """
    units = tokens = 0
    system = body.get("system")
    if system:
        inner_units, inner_tokens = _content_cost(system)
        units, tokens = inner_units, inner_tokens + MESSAGE_OVERHEAD
    messages = body.get("messages")
    for message in messages if isinstance(messages, list) else []:
        if isinstance(message, dict):
            inner_units, inner_tokens = _content_cost(message.get("content"))
            units += inner_units
            tokens += inner_tokens + MESSAGE_OVERHEAD
    tools = body.get("tools")
    if isinstance(tools, list) and tools:
        tokens += TOOLS_OVERHEAD
        for tool in tools:
            if not isinstance(tool, dict):
                continue
            tokens += TOOL_OVERHEAD
            if tool.get("type") in (None, "custom"):
                units += _units(str(tool.get("name") or "")) + _units(
                    str(tool.get("description") or "")
                )
                units += _json_units(tool.get("input_schema") or {})
            else:
                units += _json_units(tool)
    return max(1, -(-units // CHARS_PER_TOKEN) + tokens)
