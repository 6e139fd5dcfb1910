"""Translating Anthropic's Messages API requests to OpenAI chat completions.

The gateway's public ``/v1/messages`` goes as is to deployments that speak Messages; for
every other one (vLLM, the simulator, OpenAI) the request becomes a chat completion here,
and the answer, whole or streamed, becomes Anthropic's ``message`` or its stream events in
:mod:`router.providers.messages_answer`. Pure data in, data out, no I/O. The other
direction (OpenAI chat in, Anthropic upstream) is :mod:`router.providers.anthropic_format`.

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
"""

from __future__ import annotations

from typing import Any

import orjson

from router.providers.errors import ProviderRejected

EFFORTS = {"low": "low", "medium": "medium", "high": "high", "xhigh": "high", "max": "high"}
# thinking.budget_tokens below each bound -> that reasoning_effort; "high" above.
BUDGET_EFFORTS = ((4096, "low"), (16384, "medium"))
# Claude Code's first system block: attribution for Anthropic's billing, not instructions.
BILLING_BLOCK = "x-anthropic-billing-header:"


def as_object(value: Any) -> dict[str, Any]:
    return value if isinstance(value, dict) else {}


def _rejected(param: str, message: str) -> ProviderRejected:
    return ProviderRejected(f"{param}: {message}", 400, "invalid_request_error", param)


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


def text_part(text: str) -> dict[str, Any]:
    """A text part: chat's content part and Anthropic's text block have this one shape."""
    return {"type": "text", "text": text}


def _image(block: dict[str, Any], param: str) -> dict[str, Any]:
    source = as_object(block.get("source"))
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
    source = as_object(block.get("source"))
    kind = source.get("type")
    parts: list[dict[str, Any]]
    if kind == "text":
        parts = [text_part(_string(source.get("data"), f"{param}.source.data"))]
    elif kind == "content":
        inner = source.get("content")
        if isinstance(inner, str):
            parts = [text_part(inner)]
        elif isinstance(inner, list):
            parts = [p for k, b in enumerate(inner) for p in _part(b, f"{param}.source[{k}]")]
        else:
            raise _rejected(f"{param}.source.content", "must be a string or a list of blocks")
    else:
        raise _rejected(param, "PDF and file documents cannot be sent to this model")
    title = block.get("title")
    return [text_part(title), *parts] if isinstance(title, str) and title else parts


def _part(block: Any, param: str) -> list[dict[str, Any]]:
    """Chat content parts for one content block of a user turn."""
    kind = block.get("type") if isinstance(block, dict) else None
    if not isinstance(block, dict):
        raise _rejected(param, "must be a content block")
    if kind == "text":
        return [text_part(_string(block.get("text"), f"{param}.text"))]
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
        return [text_part("\n\n".join([*head, *texts]))]
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
