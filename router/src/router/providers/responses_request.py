"""Translating OpenAI's Responses API requests to chat completions.

Pure functions, no I/O: deployments that speak only chat completions (vLLM, the
simulator, Anthropic through ``anthropic_format``) serve ``POST /v1/responses`` through
them, their answers translated back by :mod:`router.providers.responses_answer`.
Refusals are ``ProviderRejected`` 400s naming the field (``unsupported_value``: chat
cannot express it; ``invalid_value``: malformed).

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
"""

from __future__ import annotations

from typing import Any

import orjson

from router.providers.errors import ProviderRejected

LOGPROBS_INCLUDE = "message.output_text.logprobs"
# Fields that need state the gateway does not keep.
_STATEFUL = ("previous_response_id", "conversation", "prompt")
_PASSED = ("temperature", "top_p", "user", "safety_identifier", "prompt_cache_key", "service_tier")
_TEXT_PARTS = frozenset({"input_text", "output_text", "text"})
_IMAGE_PARTS = frozenset({"input_image", "image_url"})
_SEPARATOR = "__"


def _unsupported(message: str, param: str) -> ProviderRejected:
    return ProviderRejected(message, 400, "unsupported_value", param)


def _invalid(message: str, param: str) -> ProviderRejected:
    return ProviderRejected(message, 400, "invalid_value", param)


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


def namespaced_tools(tools: Any) -> dict[str, tuple[str, str]]:
    """Flat chat name -> (namespace, name) for every function tool of a namespace (the
    answer names a call by it again)."""
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
    namespaced = namespaced_tools(body.get("tools"))
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
