"""Translating between OpenAI's Responses API and chat completions.

Pure functions and one stream translator, no I/O: deployments that speak only chat
completions (vLLM, the simulator, Anthropic through ``anthropic_format``) serve
``POST /v1/responses`` through them. Refusals are ``ProviderRejected`` 400s naming the
field (``unsupported_value``: chat cannot express it; ``invalid_value``: malformed).

Requests (:func:`chat_request`):

- ``input``: a string is one user message. ``message`` items (``type`` optional) keep
  their role, except ``developer`` -> ``system`` (vLLM's chat templates may not know
  ``developer``); consecutive system messages are merged into one (some templates allow
  only one). Content: a string as is; parts: ``input_text``/``output_text``/``text`` ->
  text parts, ``input_image`` (``image_url`` a string or ``{url}``; ``file_id`` is
  refused) -> ``image_url`` parts (user messages only); an assistant message's text and
  ``refusal`` parts -> its text. Other parts are refused (``input[i].content[j]``).
- ``function_call`` items -> assistant ``tool_calls`` (``id`` = ``call_id``); consecutive
  ones, and the assistant message right before them, make ONE assistant message.
  ``function_call_output`` -> a ``tool`` message (``tool_call_id`` = ``call_id``); a
  content list gives its text parts joined by newlines, and its images as a user
  message after the run of tool messages (chat tool messages carry only text).
- ``reasoning`` items are dropped: encrypted reasoning is only valid where it was made.
  Any other item type (``item_reference``, hosted tool calls, ``compaction``...) is
  refused, naming ``input[i]``.
- ``instructions`` -> a leading system message.
- ``tools``: ``function`` -> chat function tools (name, description, parameters,
  strict); ``namespace`` -> its function tools, named ``<namespace>__<name>`` (a call to
  such a name comes back as that name with ``namespace``); ``custom`` (freeform) tools
  are refused; every other type is a built-in tool (web_search, file_search,
  code_interpreter, image_generation, mcp, computer, local_shell, shell, apply_patch...)
  that OpenAI runs or whose call items only its models emit: dropped, never refused
  (Codex always sends ``web_search``). Duplicate names after flattening are refused.
- ``tool_choice``: none/auto/required as is; ``{type: function, name}`` -> chat's form
  (a bare inner name of one namespace tool gets its flat name); ``allowed_tools`` ->
  only those tools are sent, with its ``mode`` as the choice; ``custom`` is refused;
  any built-in choice -> ``auto``. With no tool left, ``tools``, ``tool_choice`` and
  ``parallel_tool_calls`` are all left out (chat refuses a choice without tools).
- ``text.format``: ``json_schema`` -> ``response_format.json_schema`` {name, schema,
  strict, description}; ``json_object`` as is; ``text`` -> nothing. ``text.verbosity``
  -> ``verbosity``. ``reasoning.effort`` -> ``reasoning_effort`` (``summary`` ignored).
  ``max_output_tokens`` -> ``max_completion_tokens``. ``top_logprobs`` -> ``logprobs``
  + ``top_logprobs``; ``include`` naming ``message.output_text.logprobs`` -> ``logprobs``.
- Passed as is: ``model``, ``temperature``, ``top_p``, ``user``, ``safety_identifier``,
  ``prompt_cache_key``, ``service_tier``, ``parallel_tool_calls``; ``stream`` (true adds
  ``stream_options.include_usage``). ``metadata`` is dropped (chat takes it only with
  ``store``) and echoed in the response.
- Ignored: ``store`` (nothing is stored), ``include`` (but logprobs), ``truncation``,
  ``max_tool_calls``, ``stream_options``, ``prompt_cache_retention``,
  ``prompt_cache_options``, ``background: false``, ``client_metadata`` and every field
  this module does not know.
- Refused (the edge refuses them first; stateless chat cannot serve them):
  ``previous_response_id``, ``conversation``, ``prompt`` (stored prompts),
  ``background: true``.

Answers (:func:`response_object`, :class:`ResponsesEvents`), in output order:

- the reasoning text (``reasoning`` or ``reasoning_content``, the first present) -> a
  ``reasoning`` item with one ``reasoning_text`` content part (summary ``[]``);
- content and refusal -> a ``message`` item with ``output_text`` (annotations ``[]``,
  logprobs mapped from chat's when asked, else ``[]``) and ``refusal`` parts; content
  that is only whitespace in an answer that calls tools is dropped (chat templates leave
  newlines around tool calls);
- each tool call -> a ``function_call`` item (``call_id`` = the chat tool call's id);
- item ids derive from the response id: ``msg_/fc_/rs_<id suffix>_<output index>``;
- finish ``length`` -> status ``incomplete`` (``max_output_tokens``), ``content_filter``
  -> ``incomplete`` (``content_filter``), the last item ``incomplete`` too; otherwise
  ``completed``;
- the response echoes the request: ``instructions``, ``model`` (as the client sent it),
  ``tools`` (function tools with ``strict``/``parameters`` null when absent),
  ``tool_choice`` (default ``auto``), ``parallel_tool_calls`` (default true),
  ``temperature``/``top_p`` (null when not sent: the deployment's defaults applied,
  unknown here), ``max_output_tokens``, ``metadata`` (default ``{}``), ``text``,
  ``reasoning``, ``user``/``safety_identifier``/``prompt_cache_key``/``top_logprobs``
  when sent; and ``store: false``, ``truncation: "disabled"``, ``background: false``.
  ``usage`` and ``user`` are left out rather than null (the schema forbids null).

Streams: every event is ``event: <type>\\ndata: <json>\\n\\n`` with ``sequence_number``
0, 1, 2... Items are sequential: an item is closed (its done events, then
``output_item.done``) before the next opens, and opened (``output_item.added``) before
its first delta; a message part gets ``content_part.added``/``.done`` around its deltas.
Whitespace-only content with no message open is held until real content follows, and
at the end becomes a message only if no tool was called. A tool call delta for a call
whose item was already closed is a provider fault (``ProviderUnavailable``), as are
unreadable or error events. ``finish`` closes what is open and sends
``response.completed`` (or ``response.incomplete``) whose ``output`` is every item as
``output_item.done`` carried it; ``fail`` closes nothing and sends ``response.failed``
with ``error`` {code, message} (OpenAI's schema lists the codes it knows, such as
``server_error``; the code is passed as given).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import orjson

from router.providers.base import Usage
from router.providers.errors import ProviderRejected, ProviderUnavailable

LOGPROBS_INCLUDE = "message.output_text.logprobs"
# Fields that need state the gateway does not keep.
_STATEFUL = ("previous_response_id", "conversation", "prompt")
_PASSED = ("temperature", "top_p", "user", "safety_identifier", "prompt_cache_key", "service_tier")
_TEXT_PARTS = frozenset({"input_text", "output_text", "text"})
_IMAGE_PARTS = frozenset({"input_image", "image_url"})
_REASONING = ("reasoning", "reasoning_content")
_INCOMPLETE = {"length": "max_output_tokens", "content_filter": "content_filter"}
_SEPARATOR = "__"


def _unsupported(message: str, param: str) -> ProviderRejected:
    return ProviderRejected(message, 400, "unsupported_value", param)


def _invalid(message: str, param: str) -> ProviderRejected:
    return ProviderRejected(message, 400, "invalid_value", param)


# --- requests -----------------------------------------------------------------------


def _image(part: dict[str, Any], param: str) -> dict[str, Any]:
    url = part.get("image_url")
    if isinstance(url, dict):
        url = url.get("url")
    if not isinstance(url, str) or not url:
        raise _unsupported("Only images given by image_url are supported (not file_id).", param)
    image: dict[str, Any] = {"url": url}
    if part.get("detail") is not None:
        image["detail"] = part["detail"]
    return {"type": "image_url", "image_url": image}


def _parts(content: Any, param: str, *, role: str) -> str | list[dict[str, Any]]:
    if isinstance(content, str):
        return content
    if not isinstance(content, list):
        raise _invalid("Message content must be a string or a list of parts.", param)
    parts: list[dict[str, Any]] = []
    for j, part in enumerate(content):
        kind = part.get("type") if isinstance(part, dict) else None
        if kind in _TEXT_PARTS:
            parts.append({"type": "text", "text": str(part.get("text") or "")})
        elif kind == "refusal" and role == "assistant":
            parts.append({"type": "text", "text": str(part.get("refusal") or "")})
        elif kind in _IMAGE_PARTS and role == "user":
            parts.append(_image(part, f"{param}.content[{j}]"))
        else:
            raise _unsupported(
                f"Content parts of type {kind!r} are not supported in {role} messages.",
                f"{param}.content[{j}]",
            )
    if role == "assistant":
        return "".join(p["text"] for p in parts)
    return parts


def _as_list(content: str | list[dict[str, Any]]) -> list[dict[str, Any]]:
    return [{"type": "text", "text": content}] if isinstance(content, str) else content


def _add_system(messages: list[dict[str, Any]], content: str | list[dict[str, Any]]) -> None:
    last = messages[-1] if messages else None
    if last is not None and last["role"] == "system":
        last["content"] = _as_list(last["content"]) + _as_list(content)
    else:
        messages.append({"role": "system", "content": content})


def _message(messages: list[dict[str, Any]], item: dict[str, Any], param: str) -> None:
    role = item.get("role")
    if role in ("system", "developer"):
        _add_system(messages, _parts(item.get("content"), param, role="system"))
    elif role in ("user", "assistant"):
        messages.append({"role": role, "content": _parts(item.get("content"), param, role=role)})
    else:
        raise _invalid(f"Messages with role {role!r} are not supported.", param)


def _function_call(messages: list[dict[str, Any]], item: dict[str, Any], param: str) -> None:
    call_id, name = item.get("call_id"), item.get("name")
    if not isinstance(call_id, str) or not isinstance(name, str):
        raise _invalid("A function_call item needs a call_id and a name.", param)
    namespace = item.get("namespace")
    if isinstance(namespace, str) and namespace:
        name = f"{namespace}{_SEPARATOR}{name}"
    arguments = item.get("arguments")
    if not isinstance(arguments, str):
        arguments = orjson.dumps(arguments or {}).decode()
    call = {"id": call_id, "type": "function", "function": {"name": name, "arguments": arguments}}
    last = messages[-1] if messages else None
    if last is not None and last["role"] == "assistant":
        last.setdefault("tool_calls", []).append(call)
    else:
        messages.append({"role": "assistant", "content": None, "tool_calls": [call]})


def _tool_output(
    messages: list[dict[str, Any]], item: dict[str, Any], param: str
) -> list[dict[str, Any]]:
    """Appends the tool message; returns the output's images (chat's tool messages carry
    only text: they follow as a user message)."""
    call_id, output = item.get("call_id"), item.get("output")
    if not isinstance(call_id, str):
        raise _invalid("A function_call_output item needs a call_id.", param)
    images: list[dict[str, Any]] = []
    if isinstance(output, str):
        text = output
    elif isinstance(output, list):
        texts = []
        for j, part in enumerate(output):
            kind = part.get("type") if isinstance(part, dict) else None
            if kind in _TEXT_PARTS:
                texts.append(str(part.get("text") or ""))
            elif kind in _IMAGE_PARTS:
                images.append(_image(part, f"{param}.output[{j}]"))
            else:
                raise _unsupported(
                    f"Tool output parts of type {kind!r} are not supported.", f"{param}.output[{j}]"
                )
        text = "\n".join(texts)
    else:
        raise _invalid("A function_call_output needs an output string or list.", param)
    messages.append({"role": "tool", "tool_call_id": call_id, "content": text})
    return images


def _messages(body: dict[str, Any]) -> list[dict[str, Any]]:
    messages: list[dict[str, Any]] = []
    instructions = body.get("instructions")
    if instructions is not None and not isinstance(instructions, str):
        raise _invalid("'instructions' must be a string.", "instructions")
    if instructions:
        _add_system(messages, instructions)
    raw = body.get("input")
    if isinstance(raw, str):
        raw = [{"role": "user", "content": raw}]
    elif raw is None:
        raw = []
    elif not isinstance(raw, list):
        raise _invalid("'input' must be a string or a list of items.", "input")
    images: list[dict[str, Any]] = []
    for i, item in enumerate(raw):
        param = f"input[{i}]"
        if not isinstance(item, dict):
            raise _invalid("Each input item must be an object.", param)
        kind = item.get("type", "message")
        if kind == "reasoning":
            continue
        if kind != "function_call_output" and images:
            messages.append({"role": "user", "content": images})
            images = []
        if kind == "message":
            _message(messages, item, param)
        elif kind == "function_call":
            _function_call(messages, item, param)
        elif kind == "function_call_output":
            images += _tool_output(messages, item, param)
        else:
            raise _unsupported(f"Input items of type {kind!r} are not supported.", param)
    if images:
        messages.append({"role": "user", "content": images})
    if not messages:
        raise _invalid("'input' must not be empty.", "input")
    return messages


def _function_tool(tool: dict[str, Any], name: Any, param: str) -> dict[str, Any]:
    if not isinstance(name, str) or not name:
        raise _invalid("A function tool needs a name.", param)
    function: dict[str, Any] = {"name": name}
    for key in ("description", "parameters", "strict"):
        if tool.get(key) is not None:
            function[key] = tool[key]
    return {"type": "function", "function": function}


def _namespaced(tools: Any) -> dict[str, tuple[str, str]]:
    """Flat chat name -> (namespace, name) for every function tool of a namespace."""
    out: dict[str, tuple[str, str]] = {}
    for tool in tools if isinstance(tools, list) else ():
        if isinstance(tool, dict) and tool.get("type") == "namespace":
            namespace = tool.get("name")
            for sub in tool.get("tools") or ():
                name = sub.get("name") if isinstance(sub, dict) else None
                if isinstance(namespace, str) and isinstance(name, str):
                    out[f"{namespace}{_SEPARATOR}{name}"] = (namespace, name)
    return out


def _tools(raw: Any) -> list[dict[str, Any]]:
    if raw is None:
        return []
    if not isinstance(raw, list):
        raise _invalid("'tools' must be a list.", "tools")
    tools: list[dict[str, Any]] = []
    for i, tool in enumerate(raw):
        param = f"tools[{i}]"
        kind = tool.get("type") if isinstance(tool, dict) else None
        if kind == "function":
            tools.append(_function_tool(tool, tool.get("name"), param))
        elif kind == "namespace":
            namespace, inner = tool.get("name"), tool.get("tools")
            if not isinstance(namespace, str) or not namespace or not isinstance(inner, list):
                raise _invalid("A namespace tool needs a name and a list of tools.", param)
            for j, sub in enumerate(inner):
                if not isinstance(sub, dict) or sub.get("type") != "function":
                    raise _unsupported(
                        "Only function tools are supported in a namespace.", f"{param}.tools[{j}]"
                    )
                flat = f"{namespace}{_SEPARATOR}{sub.get('name')}"
                tools.append(_function_tool(sub, flat, f"{param}.tools[{j}]"))
        elif kind == "custom":
            raise _unsupported("Custom tools are not supported; use function tools.", param)
        elif not isinstance(kind, str):
            raise _invalid("Each tool needs a type.", param)
        # Any other type is a built-in tool: dropped.
    names = [t["function"]["name"] for t in tools]
    for name in names:
        if names.count(name) > 1:
            raise _invalid(f"Tool name {name!r} is used more than once.", "tools")
    return tools


def _allowed(tool: dict[str, Any], entries: list[Any], namespaced: dict[str, Any]) -> bool:
    name = tool["function"]["name"]
    namespace, inner = namespaced.get(name, (None, None))
    for entry in entries:
        if not isinstance(entry, dict):
            continue
        kind, entry_name = entry.get("type"), entry.get("name")
        if kind == "function" and entry.get("namespace") in (None, namespace):
            if entry_name in (name, inner):
                return True
        elif kind == "namespace" and namespace is not None and entry_name == namespace:
            return True
    return False


def _tool_choice(
    choice: Any, tools: list[dict[str, Any]], namespaced: dict[str, tuple[str, str]]
) -> tuple[Any, list[dict[str, Any]]]:
    """Chat's ``tool_choice`` (None: leave it out) and the tools it leaves to send."""
    if choice is None or choice in ("none", "auto", "required"):
        return choice, tools
    kind = choice.get("type") if isinstance(choice, dict) else None
    if kind == "function":
        name = choice.get("name")
        if not isinstance(name, str):
            raise _invalid("A function tool_choice needs a name.", "tool_choice")
        flat = [n for n, (_, inner) in namespaced.items() if inner == name]
        if all(t["function"]["name"] != name for t in tools) and len(flat) == 1:
            name = flat[0]
        return {"type": "function", "function": {"name": name}}, tools
    if kind == "allowed_tools":
        mode, entries = choice.get("mode"), choice.get("tools")
        if mode not in ("auto", "required") or not isinstance(entries, list):
            raise _invalid("allowed_tools needs a mode (auto, required) and tools.", "tool_choice")
        return mode, [t for t in tools if _allowed(t, entries, namespaced)]
    if kind == "custom":
        raise _unsupported("Custom tools are not supported; use function tools.", "tool_choice")
    if not isinstance(kind, str):
        raise _invalid("Unsupported tool_choice.", "tool_choice")
    return "auto", tools  # a built-in tool, which was dropped


def _text_format(text: Any, out: dict[str, Any]) -> None:
    if not isinstance(text, dict):
        return
    fmt = text.get("format")
    kind = fmt.get("type") if isinstance(fmt, dict) else None
    if kind == "json_schema" and isinstance(fmt, dict):
        keys = ("name", "schema", "strict", "description")
        schema = {k: fmt[k] for k in keys if fmt.get(k) is not None}
        out["response_format"] = {"type": "json_schema", "json_schema": schema}
    elif kind == "json_object":
        out["response_format"] = {"type": "json_object"}
    elif kind not in (None, "text"):
        raise _unsupported(f"text.format of type {kind!r} is not supported.", "text.format")
    if text.get("verbosity") is not None:
        out["verbosity"] = text["verbosity"]


def chat_request(body: dict[str, Any]) -> dict[str, Any]:
    """A chat completions request for a Responses API request body (rules above)."""
    for name in _STATEFUL:
        if body.get(name) is not None:
            raise _unsupported(
                f"'{name}' is not supported for this model: send the whole conversation.", name
            )
    if body.get("background") is True:
        raise _unsupported("Background responses are not supported for this model.", "background")
    out: dict[str, Any] = {}
    if "model" in body:
        out["model"] = body["model"]
    out["messages"] = _messages(body)
    namespaced = _namespaced(body.get("tools"))
    choice, tools = _tool_choice(body.get("tool_choice"), _tools(body.get("tools")), namespaced)
    if tools:
        out["tools"] = tools
        if choice is not None:
            out["tool_choice"] = choice
        if isinstance(body.get("parallel_tool_calls"), bool):
            out["parallel_tool_calls"] = body["parallel_tool_calls"]
    _text_format(body.get("text"), out)
    reasoning = body.get("reasoning")
    if isinstance(reasoning, dict) and reasoning.get("effort") is not None:
        out["reasoning_effort"] = reasoning["effort"]
    if body.get("max_output_tokens") is not None:
        out["max_completion_tokens"] = body["max_output_tokens"]
    for name in _PASSED:
        if body.get(name) is not None:
            out[name] = body[name]
    include = body.get("include")
    top_logprobs = body.get("top_logprobs")
    if top_logprobs is not None or (isinstance(include, list) and LOGPROBS_INCLUDE in include):
        out["logprobs"] = True
        if top_logprobs is not None:
            out["top_logprobs"] = top_logprobs
    if isinstance(body.get("stream"), bool):
        out["stream"] = body["stream"]
        if body["stream"]:
            out["stream_options"] = {"include_usage": True}
    return out


# --- answers ------------------------------------------------------------------------


def responses_usage(usage: Usage) -> dict[str, Any]:
    """The Responses API ``usage`` object for the gateway's usage."""
    return {
        "input_tokens": usage.prompt_tokens,
        "input_tokens_details": {"cached_tokens": usage.cached_tokens, "cache_write_tokens": 0},
        "output_tokens": usage.completion_tokens,
        "output_tokens_details": {"reasoning_tokens": usage.reasoning_tokens},
        "total_tokens": usage.prompt_tokens + usage.completion_tokens,
    }


def _echo_tools(tools: Any) -> list[Any]:
    return [
        {**tool, "parameters": tool.get("parameters"), "strict": tool.get("strict")}
        if isinstance(tool, dict) and tool.get("type") == "function"
        else tool
        for tool in (tools if isinstance(tools, list) else ())
    ]


def _response(
    request: dict[str, Any],
    response_id: str,
    created_at: int,
    *,
    status: str,
    output: list[dict[str, Any]],
    usage: Usage | None = None,
    error: dict[str, Any] | None = None,
    incomplete: str | None = None,
) -> dict[str, Any]:
    text, reasoning = _dict(request.get("text")), _dict(request.get("reasoning"))
    echoed_text: dict[str, Any] = {"format": text.get("format") or {"type": "text"}}
    if text.get("verbosity") is not None:
        echoed_text["verbosity"] = text["verbosity"]
    instructions = request.get("instructions")
    parallel = request.get("parallel_tool_calls")
    metadata = request.get("metadata")
    out: dict[str, Any] = {
        "id": response_id,
        "object": "response",
        "created_at": created_at,
        "status": status,
        "background": False,
        "error": error,
        "incomplete_details": {"reason": incomplete} if incomplete else None,
        "instructions": instructions if isinstance(instructions, str) else None,
        "max_output_tokens": request.get("max_output_tokens"),
        "model": request.get("model") if isinstance(request.get("model"), str) else "",
        "output": output,
        "parallel_tool_calls": parallel if isinstance(parallel, bool) else True,
        "previous_response_id": None,
        "reasoning": {"effort": reasoning.get("effort"), "summary": reasoning.get("summary")},
        "store": False,
        "temperature": request.get("temperature"),
        "text": echoed_text,
        "tool_choice": request.get("tool_choice") or "auto",
        "tools": _echo_tools(request.get("tools")),
        "top_p": request.get("top_p"),
        "truncation": "disabled",
        "metadata": metadata if isinstance(metadata, dict) else {},
    }
    for name in ("top_logprobs", "user", "safety_identifier", "prompt_cache_key"):
        if request.get(name) is not None:
            out[name] = request[name]
    if usage is not None:
        out["usage"] = responses_usage(usage)
    return out


def _item_id(prefix: str, response_id: str, index: int) -> str:
    suffix = response_id.split("_", 1)[1] if "_" in response_id else response_id
    return f"{prefix}_{suffix}_{index}"


def _top(entry: dict[str, Any], *, with_bytes: bool) -> dict[str, Any]:
    token = str(entry.get("token") or "")
    out: dict[str, Any] = {"token": token, "logprob": float(entry.get("logprob") or 0.0)}
    if with_bytes:
        raw = entry.get("bytes")
        out["bytes"] = raw if isinstance(raw, list) else list(token.encode())
    return out


def _logprobs(entries: list[Any], *, with_bytes: bool) -> list[dict[str, Any]]:
    """Chat log probabilities as the Responses API has them: in an ``output_text`` part
    (``LogProb``, with bytes) or in a delta event (``ResponseLogProb``, without)."""
    return [
        {
            **_top(entry, with_bytes=with_bytes),
            "top_logprobs": [
                _top(top, with_bytes=with_bytes)
                for top in entry.get("top_logprobs") or ()
                if isinstance(top, dict)
            ],
        }
        for entry in entries
        if isinstance(entry, dict)
    ]


def _reasoning_text(message: dict[str, Any]) -> str:
    return next(
        (message[n] for n in _REASONING if isinstance(message.get(n), str) and message[n]), ""
    )


def _dict(value: Any) -> dict[str, Any]:
    return value if isinstance(value, dict) else {}


def response_object(
    chat: dict[str, Any], request: dict[str, Any], *, response_id: str, usage: Usage
) -> dict[str, Any]:
    """The Responses API ``response`` object for a whole ``chat.completion`` answer.

    The answer goes through :class:`ResponsesEvents` as a one-chunk stream (its message
    as the delta), so whole and streamed answers map the same way by construction.
    """
    choices = chat.get("choices")
    choice = _dict(choices[0]) if isinstance(choices, list) and choices else {}
    message = _dict(choice.get("message"))
    delta = {k: v for k, v in message.items() if k != "tool_calls"}
    calls = [c for c in message.get("tool_calls") or () if isinstance(c, dict)]
    delta["tool_calls"] = [{**c, "index": i} for i, c in enumerate(calls)]
    chunk = {"choices": [{**choice, "index": 0, "delta": delta}]}
    created = chat.get("created")
    events = ResponsesEvents(request, response_id, created if isinstance(created, int) else 0)
    events.feed(b"data: " + orjson.dumps(chunk))
    events.finish(usage)
    return events.response(usage)


# --- streams ------------------------------------------------------------------------


@dataclass
class _Part:
    type: str  # output_text | refusal
    text: list[str] = field(default_factory=list)
    logprobs: list[Any] = field(default_factory=list)  # chat's entries

    def json(self) -> dict[str, Any]:
        text = "".join(self.text)
        if self.type == "refusal":
            return {"type": "refusal", "refusal": text}
        logprobs = _logprobs(self.logprobs, with_bytes=True)
        return {"type": "output_text", "text": text, "annotations": [], "logprobs": logprobs}


@dataclass
class _Item:
    kind: str  # message | function_call | reasoning
    index: int
    id: str
    parts: list[_Part] = field(default_factory=list)  # a message's
    part_open: bool = False
    text: list[str] = field(default_factory=list)  # reasoning text, call arguments
    tool_index: int | None = None
    call_id: str = ""
    name: str = ""

    def json(self, status: str, namespaced: dict[str, tuple[str, str]]) -> dict[str, Any]:
        started = status == "in_progress"
        if self.kind == "function_call":
            item = {
                "id": self.id,
                "type": "function_call",
                "status": status,
                "arguments": "".join(self.text),
                "call_id": self.call_id,
                "name": self.name,
            }
            if self.name in namespaced:
                item["namespace"], item["name"] = namespaced[self.name]
            return item
        if self.kind == "reasoning":
            content = [] if started else [{"type": "reasoning_text", "text": "".join(self.text)}]
            return {
                "id": self.id,
                "type": "reasoning",
                "status": status,
                "summary": [],
                "content": content,
            }
        parts = [] if started else [p.json() for p in self.parts]
        return {
            "id": self.id,
            "type": "message",
            "status": status,
            "role": "assistant",
            "content": parts,
        }


_PREFIXES = {"message": "msg", "function_call": "fc", "reasoning": "rs"}


class ResponsesEvents:
    """Chat completion chunk events (OpenAI SSE ``data: {...}`` bytes, one whole event per
    call) in, Responses API SSE events out, with ``sequence_number`` 0, 1, 2...

    Lifecycle: :meth:`start` once; :meth:`feed` per chat event; then :meth:`finish` (the
    answer ended, with or without a finish reason) or :meth:`fail` (it broke); after
    either, every call returns nothing. :meth:`response` is the final response object,
    as the last event carries it. Feeding raises ``ProviderUnavailable`` for a provider
    fault (unreadable or error event, tool call deltas out of order).
    """

    def __init__(self, request: dict[str, Any], response_id: str, created_at: int) -> None:
        self._request = request
        self._id = response_id
        self._created_at = created_at
        self._namespaced = _namespaced(request.get("tools"))
        self._sequence = 0
        self._done: list[dict[str, Any]] = []
        self._open: _Item | None = None
        self._tool_indexes: set[int] = set()
        # Whitespace-only content (text, logprobs) waiting for a message.
        self._held: list[tuple[str, list[Any]]] = []
        self._finish_reason: str | None = None
        self._error: dict[str, Any] | None = None
        self._ended = False

    def response(self, usage: Usage | None) -> dict[str, Any]:
        """The response as it stands: final once :meth:`finish` or :meth:`fail` ran."""
        incomplete = _INCOMPLETE.get(self._finish_reason or "")
        status = "incomplete" if incomplete else "completed"
        if self._error is not None:
            status, incomplete, usage = "failed", None, None
        return _response(
            self._request,
            self._id,
            self._created_at,
            status=status,
            output=list(self._done),
            usage=usage,
            error=self._error,
            incomplete=incomplete,
        )

    def start(self) -> list[bytes]:
        response = _response(
            self._request, self._id, self._created_at, status="in_progress", output=[]
        )
        return [
            self._event("response.created", response=response),
            self._event("response.in_progress", response=response),
        ]

    def feed(self, event: bytes) -> list[bytes]:
        data = next((line[5:] for line in event.split(b"\n") if line.startswith(b"data:")), None)
        if self._ended or data is None or data.strip() == b"[DONE]":
            return []
        try:
            payload = orjson.loads(data)
        except orjson.JSONDecodeError:
            raise ProviderUnavailable(
                "The model provider sent an unreadable stream event."
            ) from None
        if not isinstance(payload, dict):
            return []
        if payload.get("error") is not None:
            raise ProviderUnavailable("The model provider reported an error in its stream.")
        out: list[bytes] = []
        for choice in payload.get("choices") or ():
            if not isinstance(choice, dict) or choice.get("index", 0) != 0:
                continue
            logprobs = _dict(choice.get("logprobs")).get("content")
            self._delta(_dict(choice.get("delta")), logprobs or [], out)
            if choice.get("finish_reason"):
                self._finish_reason = choice["finish_reason"]
        return out

    def finish(self, usage: Usage) -> list[bytes]:
        if self._ended:
            return []
        out: list[bytes] = []
        if self._held and not self._tool_indexes:
            self._content(self._held, out)
        self._held = []
        incomplete = _INCOMPLETE.get(self._finish_reason or "")
        self._close("incomplete" if incomplete else "completed", out)
        self._ended = True
        kind = "response.incomplete" if incomplete else "response.completed"
        return [*out, self._event(kind, response=self.response(usage))]

    def fail(self, code: str, message: str) -> list[bytes]:
        if self._ended:
            return []
        self._ended = True
        self._open = None
        self._error = {"code": code, "message": message}
        return [self._event("response.failed", response=self.response(None))]

    # Every method below appends its events to ``out``.

    def _event(self, kind: str, **fields: Any) -> bytes:
        payload = {"type": kind, **fields, "sequence_number": self._sequence}
        self._sequence += 1
        return b"event: " + kind.encode() + b"\ndata: " + orjson.dumps(payload) + b"\n\n"

    def _on(self, item: _Item, kind: str, out: list[bytes], **fields: Any) -> None:
        """An event about an item (and its current part, for a message)."""
        where: dict[str, Any] = {"item_id": item.id, "output_index": item.index}
        if item.kind == "message":
            where["content_index"] = len(item.parts) - 1
        out.append(self._event(kind, **where, **fields))

    def _delta(self, delta: dict[str, Any], logprobs: list[Any], out: list[bytes]) -> None:
        reasoning = _reasoning_text(delta)
        if reasoning:
            item = self._open
            if item is None or item.kind != "reasoning":
                item = self._add("reasoning", out)
            item.text.append(reasoning)
            self._on(item, "response.reasoning_text.delta", out, content_index=0, delta=reasoning)
        content = delta.get("content")
        if isinstance(content, str) and content:
            if content.strip() or (self._open is not None and self._open.kind == "message"):
                self._content([*self._held, (content, logprobs)], out)
                self._held = []
            else:
                self._held.append((content, logprobs))
        refusal = delta.get("refusal")
        if isinstance(refusal, str) and refusal:
            self._part(self._message(out), "refusal", refusal, [], out)
        for call in delta.get("tool_calls") or ():
            if isinstance(call, dict):
                self._tool_call(call, out)

    def _add(self, kind: str, out: list[bytes], **fields: Any) -> _Item:
        self._close("completed", out)
        index = len(self._done)
        item = self._open = _Item(kind, index, _item_id(_PREFIXES[kind], self._id, index), **fields)
        skeleton = item.json("in_progress", self._namespaced)
        out.append(self._event("response.output_item.added", output_index=index, item=skeleton))
        return item

    def _message(self, out: list[bytes]) -> _Item:
        if self._open is not None and self._open.kind == "message":
            return self._open
        return self._add("message", out)

    def _content(self, pieces: list[tuple[str, list[Any]]], out: list[bytes]) -> None:
        item = self._message(out)
        for text, logprobs in pieces:
            self._part(item, "output_text", text, logprobs, out)

    def _tool_call(self, call: dict[str, Any], out: list[bytes]) -> None:
        index = call.get("index", 0)
        function = _dict(call.get("function"))
        item = self._open
        if item is None or item.kind != "function_call" or item.tool_index != index:
            if index in self._tool_indexes:
                raise ProviderUnavailable("The model provider streamed tool calls out of order.")
            self._tool_indexes.add(index)
            call_id = call.get("id") or _item_id("call", self._id, len(self._done))
            name = function.get("name") or ""
            item = self._add("function_call", out, tool_index=index, call_id=call_id, name=name)
        else:
            item.name += function.get("name") or ""
        arguments = function.get("arguments")
        if isinstance(arguments, str) and arguments:
            item.text.append(arguments)
            self._on(item, "response.function_call_arguments.delta", out, delta=arguments)

    def _part(
        self, item: _Item, kind: str, text: str, logprobs: list[Any], out: list[bytes]
    ) -> None:
        if not item.part_open or item.parts[-1].type != kind:
            self._close_part(item, out)
            item.parts.append(_Part(kind))
            item.part_open = True
            self._on(item, "response.content_part.added", out, part=_Part(kind).json())
        part = item.parts[-1]
        part.text.append(text)
        if kind == "refusal":
            self._on(item, "response.refusal.delta", out, delta=text)
        else:
            part.logprobs += logprobs
            delta_logprobs = _logprobs(logprobs, with_bytes=False)
            self._on(item, "response.output_text.delta", out, delta=text, logprobs=delta_logprobs)

    def _close_part(self, item: _Item, out: list[bytes]) -> None:
        if not item.part_open:
            return
        item.part_open = False
        part = item.parts[-1]
        if part.type == "refusal":
            self._on(item, "response.refusal.done", out, refusal="".join(part.text))
        else:
            logprobs = _logprobs(part.logprobs, with_bytes=False)
            self._on(
                item, "response.output_text.done", out, text="".join(part.text), logprobs=logprobs
            )
        self._on(item, "response.content_part.done", out, part=part.json())

    def _close(self, status: str, out: list[bytes]) -> None:
        item = self._open
        if item is None:
            return
        self._open = None
        done = item.json(status, self._namespaced)
        if item.kind == "message":
            self._close_part(item, out)
        elif item.kind == "reasoning":
            text = "".join(item.text)
            self._on(item, "response.reasoning_text.done", out, content_index=0, text=text)
        else:
            self._on(
                item,
                "response.function_call_arguments.done",
                out,
                name=done["name"],
                arguments=done["arguments"],
            )
        self._done.append(done)
        out.append(self._event("response.output_item.done", output_index=item.index, item=done))
