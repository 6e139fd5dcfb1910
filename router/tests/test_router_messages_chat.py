"""Messages API <-> chat completions (``router.providers.messages_chat``): each request
rule, whole answers and streams. Every answer and stream event is checked against the
``anthropic`` SDK's own types, every translated request against OpenAI's OpenAPI
description; a stream is also checked for Anthropic's event order and compared with the
whole answer assembled from the same chunks."""

from __future__ import annotations

import json
import os
from pathlib import Path
from types import ModuleType
from typing import Any

import orjson
import pytest
from pydantic import TypeAdapter

from gateway_shared.sse import DONE
from gateway_shared.tokens import CHARS_PER_TOKEN, MESSAGE_OVERHEAD
from router.providers.assembly import Assembler
from router.providers.base import Operation, Usage
from router.providers.errors import ProviderRejected, ProviderUnavailable
from router.providers.messages_chat import (
    IMAGE_TOKENS,
    TOOL_OVERHEAD,
    TOOLS_OVERHEAD,
    MessagesEvents,
    chat_request,
    count_input_tokens,
    message_object,
    messages_usage,
)
from tests.support.openapi import schema_errors

DATA = Path(__file__).resolve().parent / "data"
MESSAGE_ID = "msg_gw1"


def sdk() -> ModuleType:
    """``anthropic.types``: a failure under CI when missing, a skip elsewhere."""
    if os.environ.get("CI"):
        import anthropic.types  # noqa: PLC0415 - only the answer tests need it

        return anthropic.types
    return pytest.importorskip("anthropic.types")


def claude_code_body() -> dict[str, Any]:
    body: dict[str, Any] = json.loads((DATA / "claude_code_messages_request.json").read_text())
    body.pop("_source")
    return body


def base(**fields: Any) -> dict[str, Any]:
    return {
        "model": "alias",
        "max_tokens": 100,
        "messages": [{"role": "user", "content": "hi"}],
        **fields,
    }


def translate(body: dict[str, Any]) -> dict[str, Any]:
    out = chat_request(body)
    # Whatever the translation sends is a chat request OpenAI's own schema accepts.
    assert schema_errors("CreateChatCompletionRequest", out) == []
    return out


# --- requests --------------------------------------------------------------------------

IMAGE = {"type": "image", "source": {"type": "base64", "media_type": "image/png", "data": "AA"}}
CACHE = {"cache_control": {"type": "ephemeral"}}


@pytest.mark.parametrize(
    ("fields", "messages"),
    [
        pytest.param(
            {"system": "Be brief."},
            [{"role": "system", "content": "Be brief."}, {"role": "user", "content": "hi"}],
            id="system string",
        ),
        pytest.param(
            {
                "system": [
                    {"type": "text", "text": "x-anthropic-billing-header: cc_version=2.1.197.1;"},
                    {"type": "text", "text": "One.", **CACHE},
                    {"type": "text", "text": "Two.", **CACHE},
                ]
            },
            [{"role": "system", "content": "One.\n\nTwo."}, {"role": "user", "content": "hi"}],
            id="system blocks joined, cache_control and the attribution block dropped",
        ),
        pytest.param(
            {
                "messages": [
                    {"role": "user", "content": [{"type": "text", "text": "hi", **CACHE}]},
                    {"role": "system", "content": "Agents: Explore."},
                    {"role": "assistant", "content": "Hello."},
                    {"role": "system", "content": [{"type": "text", "text": "Later."}]},
                ]
            },
            [
                {"role": "user", "content": [{"type": "text", "text": "hi"}]},
                {"role": "system", "content": "Agents: Explore."},
                {"role": "assistant", "content": "Hello."},
                {"role": "system", "content": "Later."},
            ],
            id="mid-conversation system messages stay where they are",
        ),
        pytest.param(
            {
                "messages": [
                    {
                        "role": "user",
                        "content": [
                            {"type": "text", "text": "What is this?"},
                            IMAGE,
                            {"type": "image", "source": {"type": "url", "url": "https://x/i.png"}},
                        ],
                    }
                ]
            },
            [
                {
                    "role": "user",
                    "content": [
                        {"type": "text", "text": "What is this?"},
                        {"type": "image_url", "image_url": {"url": "data:image/png;base64,AA"}},
                        {"type": "image_url", "image_url": {"url": "https://x/i.png"}},
                    ],
                }
            ],
            id="text and images",
        ),
        pytest.param(
            {
                "messages": [
                    {
                        "role": "user",
                        "content": [
                            {
                                "type": "document",
                                "title": "Notes",
                                "source": {"type": "text", "media_type": "text/plain", "data": "N"},
                            },
                            {
                                "type": "document",
                                "source": {
                                    "type": "content",
                                    "content": [{"type": "text", "text": "C"}],
                                },
                            },
                            {
                                "type": "search_result",
                                "title": "T",
                                "source": "https://s",
                                "content": [{"type": "text", "text": "S"}],
                            },
                        ],
                    }
                ]
            },
            [
                {
                    "role": "user",
                    "content": [
                        {"type": "text", "text": "Notes"},
                        {"type": "text", "text": "N"},
                        {"type": "text", "text": "C"},
                        {"type": "text", "text": "T\n\nhttps://s\n\nS"},
                    ],
                }
            ],
            id="text documents and search results become text",
        ),
        pytest.param(
            {
                "messages": [
                    {"role": "user", "content": "Weather?"},
                    {
                        "role": "assistant",
                        "content": [
                            {"type": "thinking", "thinking": "hmm", "signature": "sig"},
                            {"type": "redacted_thinking", "data": "xyz"},
                            {"type": "text", "text": "Checking."},
                            {"type": "tool_use", "id": "toolu_1", "name": "w", "input": {"c": "P"}},
                            {"type": "text", "text": "And time."},
                            {"type": "tool_use", "id": "toolu_2", "name": "t", "input": {}},
                        ],
                    },
                    {
                        "role": "assistant",
                        "content": [{"type": "thinking", "thinking": "x", "signature": "s"}],
                    },
                ]
            },
            [
                {"role": "user", "content": "Weather?"},
                {
                    "role": "assistant",
                    "content": "Checking.\n\nAnd time.",
                    "tool_calls": [
                        {
                            "id": "toolu_1",
                            "type": "function",
                            "function": {"name": "w", "arguments": '{"c":"P"}'},
                        },
                        {
                            "id": "toolu_2",
                            "type": "function",
                            "function": {"name": "t", "arguments": "{}"},
                        },
                    ],
                },
            ],
            id="tool_use to tool_calls, thinking dropped, an assistant turn left empty dropped",
        ),
        pytest.param(
            {
                "messages": [
                    {
                        "role": "assistant",
                        "content": [{"type": "tool_use", "id": "a", "name": "f", "input": {}}],
                    },
                    {
                        "role": "user",
                        "content": [
                            {"type": "text", "text": "Here you go."},
                            {"type": "tool_result", "tool_use_id": "a", "content": "out", **CACHE},
                            {
                                "type": "tool_result",
                                "tool_use_id": "b",
                                "is_error": True,
                                "content": [
                                    {"type": "text", "text": "line 1"},
                                    IMAGE,
                                    {"type": "text", "text": "line 2"},
                                ],
                            },
                            {"type": "tool_result", "tool_use_id": "c"},
                        ],
                    },
                ]
            },
            [
                {
                    "role": "assistant",
                    "content": None,
                    "tool_calls": [
                        {
                            "id": "a",
                            "type": "function",
                            "function": {"name": "f", "arguments": "{}"},
                        }
                    ],
                },
                {"role": "tool", "tool_call_id": "a", "content": "out"},
                {"role": "tool", "tool_call_id": "b", "content": "Error: line 1\n\nline 2"},
                {"role": "tool", "tool_call_id": "c", "content": ""},
                {
                    "role": "user",
                    "content": [
                        {"type": "text", "text": "Here you go."},
                        {"type": "image_url", "image_url": {"url": "data:image/png;base64,AA"}},
                    ],
                },
            ],
            id="tool results first as tool messages, errors marked, their images after",
        ),
    ],
)
def test_messages(fields: dict[str, Any], messages: list[dict[str, Any]]) -> None:
    assert translate(base(**fields))["messages"] == messages


@pytest.mark.parametrize(
    ("fields", "param"),
    [
        ({"max_tokens": None}, "max_tokens"),
        ({"max_tokens": 0}, "max_tokens"),
        ({"max_tokens": True}, "max_tokens"),
        ({"messages": []}, "messages"),
        ({"messages": [{"role": "tool", "content": "x"}]}, "messages[0].role"),
        ({"system": [{"type": "image"}]}, "system[0]"),
        (
            {
                "messages": [
                    {"role": "user", "content": [{"type": "text", "text": "a"}, {"type": "audio"}]}
                ]
            },
            "messages[0].content[1]",
        ),
        (
            {
                "messages": [
                    {
                        "role": "user",
                        "content": [{"type": "image", "source": {"type": "file", "file_id": "f"}}],
                    }
                ]
            },
            "messages[0].content[0].source",
        ),
        (
            {
                "messages": [
                    {
                        "role": "user",
                        "content": [
                            {"type": "text", "text": "Summarize"},
                            {
                                "type": "document",
                                "source": {
                                    "type": "base64",
                                    "media_type": "application/pdf",
                                    "data": "JVBE",
                                },
                            },
                        ],
                    }
                ]
            },
            "messages[0].content[1]",
        ),
        (
            {
                "messages": [
                    {"role": "user", "content": "Search"},
                    {
                        "role": "assistant",
                        "content": [
                            {
                                "type": "server_tool_use",
                                "id": "srvtoolu_1",
                                "name": "web_search",
                                "input": {},
                            },
                        ],
                    },
                ]
            },
            "messages[1].content[0]",
        ),
        (
            {
                "messages": [
                    {
                        "role": "user",
                        "content": [{"type": "tool_result", "tool_use_id": "a", "content": 5}],
                    }
                ]
            },
            "messages[0].content[0].content",
        ),
        ({"stop_sequences": "END"}, "stop_sequences"),
        (
            {
                "tools": [{"name": "f", "input_schema": {"type": "object"}}],
                "tool_choice": {"type": "tool", "name": "g"},
            },
            "tool_choice.name",
        ),
        (
            {
                "tools": [
                    {"name": "f", "input_schema": {"type": "object"}},
                    {"type": "web_search_20250305", "name": "web_search"},
                ],
                "tool_choice": {"type": "tool", "name": "web_search"},
            },
            "tool_choice.name",
        ),
    ],
)
def test_what_chat_cannot_express_is_a_400_naming_the_field(
    fields: dict[str, Any], param: str
) -> None:
    body = base(**fields)
    if body["max_tokens"] is None:
        del body["max_tokens"]
    with pytest.raises(ProviderRejected) as caught:
        chat_request(body)
    assert caught.value.status == 400
    assert caught.value.param == param
    assert caught.value.code == "invalid_request_error"
    assert str(caught.value).startswith(f"{param}: ")
    assert not caught.value.retryable


def test_max_tokens_missing_reads_as_anthropic_says_it() -> None:
    body = base()
    del body["max_tokens"]
    with pytest.raises(ProviderRejected, match=r"^max_tokens: Field required$"):
        chat_request(body)


SCHEMA = {
    "$schema": "https://json-schema.org/draft/2020-12/schema",
    "type": "object",
    "properties": {"command": {"type": "string"}},
    "required": ["command"],
    "additionalProperties": False,
}
SERVER_TOOLS = [
    {"type": "web_search_20250305", "name": "web_search", "max_uses": 3},
    {"type": "bash_20250124", "name": "bash"},
    {"type": "text_editor_20250728", "name": "str_replace_based_edit_tool"},
    {
        "type": "computer_20250124",
        "name": "computer",
        "display_width_px": 1024,
        "display_height_px": 768,
    },
    {"type": "code_execution_20250825", "name": "code_execution"},
]


def test_custom_tools_become_functions_and_anthropics_own_tools_are_dropped() -> None:
    tools = [
        {"name": "Bash", "description": "Run a command.", "input_schema": SCHEMA, **CACHE},
        {"type": "custom", "name": "Noop", "input_schema": {"type": "object"}, "strict": True},
        *SERVER_TOOLS,
    ]
    out = translate(base(tools=tools))
    assert out["tools"] == [
        {
            "type": "function",
            "function": {"name": "Bash", "description": "Run a command.", "parameters": SCHEMA},
        },
        {"type": "function", "function": {"name": "Noop", "parameters": {"type": "object"}}},
    ]


def test_only_server_tools_leave_no_tools_and_no_tool_choice() -> None:
    out = translate(
        base(tools=SERVER_TOOLS, tool_choice={"type": "any", "disable_parallel_tool_use": True})
    )
    assert "tools" not in out
    assert "tool_choice" not in out
    assert "parallel_tool_calls" not in out


@pytest.mark.parametrize(
    ("choice", "expected"),
    [
        ({"type": "auto"}, {"tool_choice": "auto"}),
        ({"type": "any"}, {"tool_choice": "required"}),
        ({"type": "none"}, {"tool_choice": "none"}),
        (
            {"type": "tool", "name": "f"},
            {"tool_choice": {"type": "function", "function": {"name": "f"}}},
        ),
        (
            {"type": "auto", "disable_parallel_tool_use": True},
            {"tool_choice": "auto", "parallel_tool_calls": False},
        ),
        (
            {"type": "any", "disable_parallel_tool_use": False},
            {"tool_choice": "required"},
        ),
        (None, {}),
    ],
)
def test_tool_choice(choice: dict[str, Any] | None, expected: dict[str, Any]) -> None:
    fields: dict[str, Any] = {"tools": [{"name": "f", "input_schema": {"type": "object"}}]}
    if choice is not None:
        fields["tool_choice"] = choice
    out = translate(base(**fields))
    assert {k: out[k] for k in ("tool_choice", "parallel_tool_calls") if k in out} == expected


@pytest.mark.parametrize(
    ("fields", "expected"),
    [
        ({"max_tokens": 32000}, {}),
        ({"stop_sequences": ["END", "STOP"]}, {"stop": ["END", "STOP"]}),
        ({"stop_sequences": []}, {}),
        ({"temperature": 0.2, "top_p": 0.9}, {"temperature": 0.2, "top_p": 0.9}),
        (
            {"metadata": {"user_id": '{"device_id":"d","session_id":"s"}'}},
            {"user": '{"device_id":"d","session_id":"s"}'},
        ),
        ({"metadata": {}}, {}),
        ({"stream": True}, {"stream": True, "stream_options": {"include_usage": True}}),
        ({"stream": False}, {}),
        ({"thinking": {"type": "enabled", "budget_tokens": 1024}}, {"reasoning_effort": "low"}),
        ({"thinking": {"type": "enabled", "budget_tokens": 8000}}, {"reasoning_effort": "medium"}),
        ({"thinking": {"type": "enabled", "budget_tokens": 16384}}, {"reasoning_effort": "high"}),
        ({"thinking": {"type": "adaptive"}}, {}),
        ({"thinking": {"type": "disabled"}}, {}),
        ({"output_config": {"effort": "low"}}, {"reasoning_effort": "low"}),
        ({"output_config": {"effort": "max"}}, {"reasoning_effort": "high"}),
        ({"output_config": {"effort": "xhigh"}}, {"reasoning_effort": "high"}),
        (
            {
                "thinking": {"type": "enabled", "budget_tokens": 1024},
                "output_config": {"effort": "high"},
            },
            {"reasoning_effort": "high"},
        ),
        (
            {
                "context_management": {
                    "edits": [{"type": "clear_thinking_20251015", "keep": "all"}]
                },
                "service_tier": "auto",
                "container": "c1",
                "mcp_servers": [{"type": "url", "url": "https://m", "name": "m"}],
                "anthropic_future_field": {"x": 1},
            },
            {},
        ),
    ],
)
def test_parameters(fields: dict[str, Any], expected: dict[str, Any]) -> None:
    body = base(**fields)
    out = translate(body)
    rest = {k: v for k, v in out.items() if k not in ("model", "messages")}
    assert rest == {"max_completion_tokens": body["max_tokens"], **expected}


def test_what_vllm_takes_and_openai_refuses_passes() -> None:
    """``top_k``, and all the stop sequences: vLLM takes any number, OpenAI's 400 for more
    than 4 reaches the caller (so this request is not schema-checked)."""
    stops = ["a", "b", "c", "d", "e", "f"]
    out = chat_request(base(top_k=40, stop_sequences=stops))
    assert (out["top_k"], out["stop"]) == (40, stops)


def test_the_claude_code_request_translates() -> None:
    body = claude_code_body()
    out = translate(body)
    assert set(out) == {
        "model",
        "messages",
        "max_completion_tokens",
        "tools",
        "user",
        "reasoning_effort",
        "stream",
        "stream_options",
    }
    assert out["model"] == "sim-chat"
    assert out["max_completion_tokens"] == 32000
    assert out["reasoning_effort"] == "high"  # output_config.effort; thinking is adaptive
    assert out["user"] == body["metadata"]["user_id"]
    assert json.loads(out["user"])["session_id"]  # the JSON-encoded string, verbatim
    assert [t["function"]["name"] for t in out["tools"]] == [t["name"] for t in body["tools"]]
    assert len(out["tools"]) == 24
    bash = next(t["function"] for t in out["tools"] if t["function"]["name"] == "Bash")
    assert bash["parameters"]["$schema"] == "https://json-schema.org/draft/2020-12/schema"
    system, user, mid_system = out["messages"]
    assert system["role"] == "system"
    assert system["content"].startswith("You are a Claude agent")  # attribution dropped
    assert "x-anthropic-billing-header" not in system["content"]
    assert user["role"] == "user"
    assert [p["text"] for p in user["content"]][1] == "say hi"
    assert all(set(p) == {"type", "text"} for p in user["content"])  # cache_control gone
    assert mid_system == {"role": "system", "content": body["messages"][1]["content"]}


def test_the_claude_code_tool_round_trip_translates() -> None:
    """Claude Code's second request after running Bash (scenario toolfirst), trimmed."""
    body = claude_code_body()
    body["messages"] += [
        {
            "role": "assistant",
            "content": [
                {"type": "text", "text": "Running a command."},
                {
                    "type": "tool_use",
                    "id": "toolu_capture_3dad5191c3e7",
                    "name": "Bash",
                    "input": {"command": "echo captured-tool-ran", "description": "Echo a marker"},
                },
            ],
        },
        {
            "role": "user",
            "content": [
                {
                    "tool_use_id": "toolu_capture_3dad5191c3e7",
                    "type": "tool_result",
                    "content": "captured-tool-ran",
                    "is_error": False,
                    "cache_control": {"type": "ephemeral"},
                }
            ],
        },
    ]
    assistant, result = translate(body)["messages"][-2:]
    assert assistant == {
        "role": "assistant",
        "content": "Running a command.",
        "tool_calls": [
            {
                "id": "toolu_capture_3dad5191c3e7",
                "type": "function",
                "function": {
                    "name": "Bash",
                    "arguments": orjson.dumps(
                        {"command": "echo captured-tool-ran", "description": "Echo a marker"}
                    ).decode(),
                },
            }
        ],
    }
    assert result == {
        "role": "tool",
        "tool_call_id": "toolu_capture_3dad5191c3e7",
        "content": "captured-tool-ran",
    }


# --- whole answers ---------------------------------------------------------------------


def chat_answer(
    message: dict[str, Any], finish: str | None = "stop", **choice: Any
) -> dict[str, Any]:
    return {
        "id": "chatcmpl-1",
        "object": "chat.completion",
        "created": 1,
        "model": "Qwen/Qwen2.5-7B-Instruct",
        "choices": [
            {
                "index": 0,
                "message": {"role": "assistant", **message},
                "logprobs": None,
                "finish_reason": finish,
                **choice,
            }
        ],
    }


def call(call_id: str | None, name: str, arguments: str) -> dict[str, Any]:
    out: dict[str, Any] = {"type": "function", "function": {"name": name, "arguments": arguments}}
    return out if call_id is None else {"id": call_id, **out}


def whole(
    chat: dict[str, Any], request: dict[str, Any] | None = None, usage: Usage | None = None
) -> dict[str, Any]:
    body = message_object(
        chat, request or base(), message_id=MESSAGE_ID, usage=usage or Usage(10, 5)
    )
    sdk().Message.model_validate(body)
    return body


THINKING = {"thinking": {"type": "adaptive"}}


@pytest.mark.parametrize(
    ("chat", "request_fields", "content", "stop"),
    [
        pytest.param(
            chat_answer({"content": "Hello!"}),
            {},
            [{"type": "text", "text": "Hello!"}],
            ("end_turn", None),
            id="text",
        ),
        pytest.param(
            chat_answer(
                {"content": None, "tool_calls": [call("call_1", "f", '{"a": 1}')]}, "tool_calls"
            ),
            {},
            [{"type": "tool_use", "id": "call_1", "name": "f", "input": {"a": 1}}],
            ("tool_use", None),
            id="a tool call",
        ),
        pytest.param(
            chat_answer(
                {
                    "content": "Let me check both.",
                    "tool_calls": [
                        call("call_1", "weather", '{"city":"Paris"}'),
                        call("call_2", "time", ""),
                    ],
                },
                "tool_calls",
            ),
            {},
            [
                {"type": "text", "text": "Let me check both."},
                {"type": "tool_use", "id": "call_1", "name": "weather", "input": {"city": "Paris"}},
                {"type": "tool_use", "id": "call_2", "name": "time", "input": {}},
            ],
            ("tool_use", None),
            id="text then parallel tool calls",
        ),
        pytest.param(
            chat_answer({"content": None, "tool_calls": [call("call_1", "f", "{}")]}, "stop"),
            {},
            [{"type": "tool_use", "id": "call_1", "name": "f", "input": {}}],
            ("tool_use", None),
            id="tool calls with finish_reason stop are still tool_use",
        ),
        pytest.param(
            chat_answer({"content": "The answer is"}, "length"),
            {},
            [{"type": "text", "text": "The answer is"}],
            ("max_tokens", None),
            id="length",
        ),
        pytest.param(
            chat_answer({"content": None, "tool_calls": [call("call_1", "f", '{"a": ')]}, "length"),
            {},
            [{"type": "tool_use", "id": "call_1", "name": "f", "input": {"_raw": '{"a": '}}],
            ("max_tokens", None),
            id="cut inside a tool call is max_tokens, the broken arguments kept raw",
        ),
        pytest.param(
            chat_answer({"content": "No."}, "content_filter"),
            {},
            [{"type": "text", "text": "No."}],
            ("refusal", None),
            id="content filter",
        ),
        pytest.param(
            chat_answer({"content": None, "refusal": "I can't help with that."}),
            {},
            [{"type": "text", "text": "I can't help with that."}],
            ("end_turn", None),
            id="an OpenAI refusal is text",
        ),
        pytest.param(
            chat_answer({"content": "a, b"}, "stop", stop_reason="END"),
            {"stop_sequences": ["END", "STOP"]},
            [{"type": "text", "text": "a, b"}],
            ("stop_sequence", "END"),
            id="vLLM names the stop sequence that matched",
        ),
        pytest.param(
            chat_answer({"content": "a"}, "stop", stop_reason=151645),
            {"stop_sequences": ["END"]},
            [{"type": "text", "text": "a"}],
            ("end_turn", None),
            id="a stop token id is no stop sequence",
        ),
        pytest.param(
            chat_answer({"content": "a"}, "abort"),
            {},
            [{"type": "text", "text": "a"}],
            ("end_turn", None),
            id="an unknown finish reason is never max_tokens",
        ),
        pytest.param(
            chat_answer({"content": "4", "reasoning": "2 + 2 = 4"}),
            THINKING,
            [
                {"type": "thinking", "thinking": "2 + 2 = 4", "signature": ""},
                {"type": "text", "text": "4"},
            ],
            ("end_turn", None),
            id="reasoning becomes a thinking block first",
        ),
        pytest.param(
            chat_answer({"content": "4", "reasoning_content": "2 + 2 = 4"}),
            {"thinking": {"type": "enabled", "budget_tokens": 2048}},
            [
                {"type": "thinking", "thinking": "2 + 2 = 4", "signature": ""},
                {"type": "text", "text": "4"},
            ],
            ("end_turn", None),
            id="reasoning_content too",
        ),
        pytest.param(
            chat_answer({"content": "4", "reasoning": "2 + 2 = 4"}),
            {},
            [{"type": "text", "text": "4"}],
            ("end_turn", None),
            id="no thinking block for a client that did not ask for thinking",
        ),
        pytest.param(
            chat_answer({"content": ""}),
            {},
            [],
            ("end_turn", None),
            id="empty",
        ),
        pytest.param(
            chat_answer(
                {
                    "content": None,
                    "tool_calls": [
                        call(None, "f", "not json"),
                        call("call.with:odd/chars", "g", "[1, 2]"),
                    ],
                },
                "tool_calls",
            ),
            {},
            [
                {
                    "type": "tool_use",
                    "id": "toolu_gw1_0",
                    "name": "f",
                    "input": {"_raw": "not json"},
                },
                {
                    "type": "tool_use",
                    "id": "call_with_odd_chars",
                    "name": "g",
                    "input": {"_raw": "[1, 2]"},
                },
            ],
            ("tool_use", None),
            id="ids made or cleaned, arguments that are no JSON object kept raw",
        ),
    ],
)
def test_whole_answer(
    chat: dict[str, Any],
    request_fields: dict[str, Any],
    content: list[dict[str, Any]],
    stop: tuple[str, str | None],
) -> None:
    body = whole(chat, base(**request_fields))
    assert body["content"] == content
    assert (body["stop_reason"], body["stop_sequence"]) == stop
    assert body["id"] == MESSAGE_ID
    assert body["type"] == "message"
    assert body["role"] == "assistant"
    assert body["model"] == "alias"  # the name the client asked for


@pytest.mark.parametrize(
    ("usage", "expected"),
    [
        (
            Usage(10, 5),
            {
                "input_tokens": 10,
                "output_tokens": 5,
                "cache_read_input_tokens": 0,
                "cache_creation_input_tokens": 0,
            },
        ),
        (
            Usage(1000, 50, cached_tokens=768),
            {
                "input_tokens": 232,
                "output_tokens": 50,
                "cache_read_input_tokens": 768,
                "cache_creation_input_tokens": 0,
            },
        ),
        (
            Usage(100, 50, reasoning_tokens=30),
            {
                "input_tokens": 100,
                "output_tokens": 50,
                "cache_read_input_tokens": 0,
                "cache_creation_input_tokens": 0,
                "output_tokens_details": {"thinking_tokens": 30},
            },
        ),
        (
            Usage(10, 5, cached_tokens=99),  # a backend counting more cached than prompt
            {
                "input_tokens": 0,
                "output_tokens": 5,
                "cache_read_input_tokens": 10,
                "cache_creation_input_tokens": 0,
            },
        ),
    ],
)
def test_usage(usage: Usage, expected: dict[str, Any]) -> None:
    assert messages_usage(usage) == expected
    assert whole(chat_answer({"content": "x"}), usage=usage)["usage"] == expected


def test_an_answer_sent_back_as_history_keeps_its_tool_ids() -> None:
    chat = chat_answer(
        {
            "content": "Checking.",
            "tool_calls": [call("call_9", "f", '{"q":"x"}'), call(None, "g", "")],
        },
        "tool_calls",
    )
    answer = whole(chat)
    history = base(
        messages=[
            {"role": "user", "content": "go"},
            {"role": "assistant", "content": answer["content"]},
            {
                "role": "user",
                "content": [
                    {"type": "tool_result", "tool_use_id": b["id"], "content": "ok"}
                    for b in answer["content"]
                    if b["type"] == "tool_use"
                ],
            },
        ]
    )
    messages = translate(history)["messages"]
    ids = [c["id"] for c in messages[1]["tool_calls"]]
    assert ids == ["call_9", "toolu_gw1_1"]
    assert [m["tool_call_id"] for m in messages[2:]] == ids
    assert json.loads(messages[1]["tool_calls"][0]["function"]["arguments"]) == {"q": "x"}


# --- streams ---------------------------------------------------------------------------


def chunk(delta: dict[str, Any] | None = None, finish: str | None = None, **choice: Any) -> bytes:
    payload = {
        "id": "chatcmpl-1",
        "object": "chat.completion.chunk",
        "created": 1,
        "model": "Qwen/Qwen2.5-7B-Instruct",
        "choices": [
            {"index": 0, "delta": delta or {}, "logprobs": None, "finish_reason": finish, **choice}
        ],
    }
    return b"data: " + orjson.dumps(payload) + b"\n\n"


def usage_chunk(prompt: int, completion: int) -> bytes:
    payload = {
        "id": "chatcmpl-1",
        "object": "chat.completion.chunk",
        "created": 1,
        "model": "m",
        "choices": [],
        "usage": {
            "prompt_tokens": prompt,
            "completion_tokens": completion,
            "total_tokens": prompt + completion,
        },
    }
    return b"data: " + orjson.dumps(payload) + b"\n\n"


def tool_delta(
    index: int | None, call_id: str | None = None, name: str | None = None, args: str = ""
) -> dict[str, Any]:
    part: dict[str, Any] = {"function": {"arguments": args}}
    if index is not None:
        part["index"] = index
    if call_id is not None:
        part.update(id=call_id, type="function")
    if name is not None:
        part["function"]["name"] = name
    return {"tool_calls": [part]}


ROLE = chunk({"role": "assistant", "content": ""})


def parse(raw: bytes) -> tuple[str, dict[str, Any]]:
    """One Anthropic SSE event: its name and data, the name equal to the data's type."""
    assert raw.endswith(b"\n\n")
    head, data, *rest = raw[:-2].split(b"\n")
    assert not rest
    assert head.startswith(b"event: ")
    assert data.startswith(b"data: ")
    name, payload = head[7:].decode(), json.loads(data[6:])
    assert payload["type"] == name
    return name, payload


def check_stream(raw: list[bytes]) -> dict[str, Any]:
    """Every event valid as the SDK's types and in Anthropic's order; the message the
    events build (as a client accumulates them), checked by the SDK too."""
    types = sdk()
    adapter = TypeAdapter(types.RawMessageStreamEvent)
    events = [parse(e) for e in raw]
    names = [n for n, _ in events if n != "ping"]
    assert names[0] == "message_start"
    assert events[1][0] == "ping"
    message: dict[str, Any] = {}
    open_index: int | None = None
    json_parts: dict[int, list[str]] = {}
    closed: list[int] = []
    for position, (name, payload) in enumerate(events):
        if name == "ping":
            continue
        if name == "error":
            types.ErrorResponse.model_validate(payload)
            assert position == len(events) - 1, "an error event ends the stream"
            message["error"] = payload["error"]
            continue
        adapter.validate_python(payload)
        if name == "message_start":
            assert position == 0
            message = payload["message"]
            assert message["content"] == []
            assert message["stop_reason"] is None
            assert message["stop_sequence"] is None
        elif name == "content_block_start":
            assert open_index is None, "blocks are strictly sequential"
            assert payload["index"] == len(message["content"])
            open_index = payload["index"]
            message["content"].append(dict(payload["content_block"]))
        elif name == "content_block_delta":
            assert payload["index"] == open_index, "a delta belongs to the open block"
            block, delta = message["content"][open_index], payload["delta"]
            kind = {
                "text_delta": "text",
                "input_json_delta": "tool_use",
                "thinking_delta": "thinking",
            }
            assert block["type"] == kind[delta["type"]]
            if delta["type"] == "text_delta":
                block["text"] += delta["text"]
            elif delta["type"] == "thinking_delta":
                block["thinking"] += delta["thinking"]
            else:
                json_parts.setdefault(open_index, []).append(delta["partial_json"])
        elif name == "content_block_stop":
            assert payload["index"] == open_index
            closed.append(payload["index"])
            open_index = None
        elif name == "message_delta":
            assert open_index is None, "every block is closed before message_delta"
            assert names[-2:] == ["message_delta", "message_stop"]
            message.update(payload["delta"])
            message["usage"] = {**message["usage"], **payload["usage"]}
        elif name == "message_stop":
            assert position == len(events) - 1
    if "error" not in message:
        assert closed == list(range(len(message["content"]))), "each block closed once"
        for index, parts in json_parts.items():
            message["content"][index]["input"] = json.loads("".join(parts))
        types.Message.model_validate(message)
    return message


def run(
    chunks: list[bytes], request: dict[str, Any] | None = None, usage: Usage | None = None
) -> list[bytes]:
    events = MessagesEvents(request or base(stream=True), MESSAGE_ID, prompt_tokens=42)
    out = events.start()
    for c in chunks:
        out += events.feed(c)
    return out + events.finish(usage or Usage(40, 7))


def assembled(chunks: list[bytes], request: dict[str, Any], usage: Usage) -> dict[str, Any]:
    """The whole answer for the same chunks, as the router assembles it."""
    assembler = Assembler(Operation.CHAT)
    for c in chunks:
        assembler.feed(c)
    return whole(assembler.answer(usage), request, usage)


STREAMS: dict[str, tuple[list[bytes], dict[str, Any], list[dict[str, Any]], str]] = {
    "text": (
        [
            ROLE,
            chunk({"content": "Hel"}),
            chunk({"content": "lo!"}),
            chunk(finish="stop"),
            usage_chunk(40, 7),
            DONE,
        ],
        {},
        [{"type": "text", "text": "Hello!"}],
        "end_turn",
    ),
    "text then two tool calls": (
        [
            ROLE,
            chunk({"content": "Let me check."}),
            chunk(tool_delta(0, "call_a", "weather")),
            chunk(tool_delta(0, args='{"city": ')),
            chunk(tool_delta(0, args='"Paris"}')),
            chunk(tool_delta(1, "call_b", "time", '{"tz": "CET"}')),
            chunk(finish="tool_calls"),
            DONE,
        ],
        {},
        [
            {"type": "text", "text": "Let me check."},
            {"type": "tool_use", "id": "call_a", "name": "weather", "input": {"city": "Paris"}},
            {"type": "tool_use", "id": "call_b", "name": "time", "input": {"tz": "CET"}},
        ],
        "tool_use",
    ),
    "tool calls ending in finish_reason stop": (
        [ROLE, chunk(tool_delta(0, "call_a", "f", "{}")), chunk(finish="stop")],
        {},
        [{"type": "tool_use", "id": "call_a", "name": "f", "input": {}}],
        "tool_use",
    ),
    "a tool call with no arguments and no id": (
        [ROLE, chunk(tool_delta(0, None, "f")), chunk(finish="tool_calls")],
        {},
        [{"type": "tool_use", "id": "toolu_gw1_0", "name": "f", "input": {}}],
        "tool_use",
    ),
    "reasoning then text": (
        [
            ROLE,
            chunk({"reasoning": "2 + 2"}),
            chunk({"reasoning": " = 4"}),
            chunk({"content": "4"}),
            chunk(finish="stop"),
        ],
        THINKING,
        [
            {"type": "thinking", "thinking": "2 + 2 = 4", "signature": ""},
            {"type": "text", "text": "4"},
        ],
        "end_turn",
    ),
    "reasoning_content, not asked for": (
        [ROLE, chunk({"reasoning_content": "hmm"}), chunk({"content": "4"}), chunk(finish="stop")],
        {},
        [{"type": "text", "text": "4"}],
        "end_turn",
    ),
    "reasoning, text, tool call": (
        [
            ROLE,
            chunk({"reasoning_content": "need weather"}),
            chunk({"content": "Checking."}),
            chunk(tool_delta(0, "call_a", "weather", '{"city":"Oslo"}')),
            chunk(finish="tool_calls"),
        ],
        {"thinking": {"type": "enabled", "budget_tokens": 1024}},
        [
            {"type": "thinking", "thinking": "need weather", "signature": ""},
            {"type": "text", "text": "Checking."},
            {"type": "tool_use", "id": "call_a", "name": "weather", "input": {"city": "Oslo"}},
        ],
        "tool_use",
    ),
    "length": (
        [ROLE, chunk({"content": "The answer is"}), chunk(finish="length")],
        {},
        [{"type": "text", "text": "The answer is"}],
        "max_tokens",
    ),
    "content filter": (
        [ROLE, chunk({"content": "I"}), chunk(finish="content_filter")],
        {},
        [{"type": "text", "text": "I"}],
        "refusal",
    ),
    "no finish reason at all": (
        [ROLE, chunk({"content": "hi"})],
        {},
        [{"type": "text", "text": "hi"}],
        "end_turn",
    ),
    "nothing": ([ROLE, chunk(finish="stop")], {}, [], "end_turn"),
}


@pytest.mark.parametrize("name", sorted(STREAMS))
def test_stream(name: str) -> None:
    chunks, fields, content, stop_reason = STREAMS[name]
    request, usage = base(stream=True, **fields), Usage(40, 7, cached_tokens=30)
    message = check_stream(run(chunks, request, usage))
    assert message["content"] == content
    assert message["stop_reason"] == stop_reason
    assert message["stop_sequence"] is None
    assert message["id"] == MESSAGE_ID
    assert message["model"] == "alias"
    assert message["usage"] == messages_usage(usage)
    assert message["usage"]["input_tokens"] == 10  # prompt less cached
    # The same chunks, assembled into a whole answer, translate to the same message.
    answer = assembled(chunks, request, usage)
    assert (answer["content"], answer["stop_reason"]) == (content, stop_reason)


def test_message_start_carries_the_prompt_estimate_and_one_ping_follows() -> None:
    start, ping = MessagesEvents(base(), MESSAGE_ID, prompt_tokens=1234).start()
    assert parse(start)[1]["message"]["usage"] == {
        "input_tokens": 1234,
        "cache_creation_input_tokens": 0,
        "cache_read_input_tokens": 0,
        "output_tokens": 1,
    }
    assert parse(ping) == ("ping", {"type": "ping"})


def test_stream_stop_sequence_from_vllms_stop_reason() -> None:
    chunks = [ROLE, chunk({"content": "a, b"}), chunk(finish="stop", stop_reason="END")]
    message = check_stream(run(chunks, base(stream=True, stop_sequences=["END"])))
    assert (message["stop_reason"], message["stop_sequence"]) == ("stop_sequence", "END")


def test_parallel_calls_sharing_index_0_with_their_own_ids_are_two_blocks() -> None:
    chunks = [
        ROLE,
        chunk(tool_delta(0, "call_a", "f", '{"n": 1}')),
        chunk(tool_delta(0, "call_b", "f", '{"n": 2}')),
        chunk(finish="tool_calls"),
    ]
    message = check_stream(run(chunks))
    assert [(b["id"], b["input"]) for b in message["content"]] == [
        ("call_a", {"n": 1}),
        ("call_b", {"n": 2}),
    ]


def test_text_after_a_tool_call_opens_a_new_block() -> None:
    chunks = [
        ROLE,
        chunk(tool_delta(0, "call_a", "f", "{}")),
        chunk({"content": "done"}),
        chunk(finish="tool_calls"),
    ]
    message = check_stream(run(chunks))
    assert [b["type"] for b in message["content"]] == ["tool_use", "text"]
    assert message["stop_reason"] == "tool_use"


@pytest.mark.parametrize(
    "resumed",
    [tool_delta(0, args="1}"), tool_delta(0, "call_a", args="1}")],
    ids=["by index", "by id"],
)
def test_a_tool_call_resumed_after_another_began_fails_the_stream(
    resumed: dict[str, Any],
) -> None:
    events = MessagesEvents(base(), MESSAGE_ID, 1)
    events.start()
    events.feed(chunk(tool_delta(0, "call_a", "f", '{"a":')))
    events.feed(chunk(tool_delta(1, "call_b", "g", "{}")))
    with pytest.raises(ProviderUnavailable):
        events.feed(chunk(resumed))


def test_an_id_first_seen_after_the_calls_first_delta_continues_it() -> None:
    chunks = [
        ROLE,
        chunk(tool_delta(0, None, "f", '{"a": ')),
        chunk(tool_delta(0, "call_late", args="1}")),
        chunk(finish="tool_calls"),
    ]
    message = check_stream(run(chunks))
    assert [(b["id"], b["input"]) for b in message["content"]] == [("toolu_gw1_0", {"a": 1})]


def test_a_cut_stream_ends_with_an_error_event() -> None:
    events = MessagesEvents(base(stream=True), MESSAGE_ID, 42)
    out = events.start() + events.feed(ROLE) + events.feed(chunk({"content": "Hal"}))
    out += events.fail(
        "api_error", "The model provider's stream was interrupted before it finished."
    )
    message = check_stream(out)
    assert message["error"] == {
        "type": "api_error",
        "message": "The model provider's stream was interrupted before it finished.",
    }
    assert [parse(e)[0] for e in out][-3:] == [
        "content_block_start",
        "content_block_delta",
        "error",
    ]
    # Over: nothing more, whatever the caller does.
    assert events.feed(chunk({"content": "more"})) == []
    assert events.finish(Usage(1, 1)) == []
    assert events.fail("api_error", "again") == []


def test_after_finish_nothing_more() -> None:
    events = MessagesEvents(base(), MESSAGE_ID, 1)
    events.start()
    assert events.finish(Usage(1, 1))
    assert events.finish(Usage(1, 1)) == []
    assert events.feed(chunk({"content": "late"})) == []
    assert events.fail("api_error", "late") == []


@pytest.mark.parametrize(
    "event",
    [
        b"data: [DONE]\n\n",
        b": gateway-usage {}\n\n",
        usage_chunk(1, 1),
        b'data: {"choices": [{"index": 1, "delta": {"content": "second choice"}}]}\n\n',
        b"data: [1, 2]\n\n",
    ],
)
def test_events_that_produce_nothing(event: bytes) -> None:
    events = MessagesEvents(base(), MESSAGE_ID, 1)
    events.start()
    assert events.feed(event) == []


@pytest.mark.parametrize(
    "event",
    [b"data: {not json\n\n", b'data: {"error": {"message": "boom", "code": 500}}\n\n'],
)
def test_unreadable_and_error_events_raise(event: bytes) -> None:
    events = MessagesEvents(base(), MESSAGE_ID, 1)
    events.start()
    with pytest.raises(ProviderUnavailable):
        events.feed(event)


# --- count_tokens ----------------------------------------------------------------------


def tokens(chars: int) -> int:
    return -(-chars // CHARS_PER_TOKEN)


@pytest.mark.parametrize(
    ("body", "expected"),
    [
        pytest.param(
            {"messages": [{"role": "user", "content": "a" * 400}]},
            100 + MESSAGE_OVERHEAD,
            id="text",
        ),
        pytest.param(
            {
                "system": [{"type": "text", "text": "s" * 40, **CACHE}],
                "messages": [{"role": "user", "content": "foo"}],
            },
            tokens(43) + 2 * MESSAGE_OVERHEAD,
            id="system blocks",
        ),
        pytest.param(
            {"messages": [{"role": "user", "content": "漢字かな" * 10}]},
            tokens(120) + MESSAGE_OVERHEAD,
            id="CJK counts three a character",
        ),
        pytest.param(
            {"messages": [{"role": "user", "content": [IMAGE, {"type": "text", "text": "abcd"}]}]},
            IMAGE_TOKENS + 1 + MESSAGE_OVERHEAD,
            id="images flat",
        ),
        pytest.param(
            {
                "messages": [
                    {
                        "role": "assistant",
                        "content": [
                            {"type": "thinking", "thinking": "t" * 400, "signature": "s"},
                            {"type": "tool_use", "id": "i", "name": "n", "input": {"k": "v"}},
                        ],
                    },
                    {
                        "role": "user",
                        "content": [
                            {"type": "tool_result", "tool_use_id": "i", "content": "r" * 8}
                        ],
                    },
                ]
            },
            tokens(len('["i","n",{"k":"v"}]') + 8 + len('["i"]')) + 4 * MESSAGE_OVERHEAD,
            id="tool use and result, thinking not counted",
        ),
        pytest.param(
            {
                "messages": [{"role": "user", "content": "foo"}],
                "tools": [{"name": "n", "description": "dddd", "input_schema": {"type": "object"}}],
            },
            tokens(3 + 1 + 4 + len('{"type":"object"}'))
            + MESSAGE_OVERHEAD
            + TOOLS_OVERHEAD
            + TOOL_OVERHEAD,
            id="tools",
        ),
        pytest.param({"messages": [], "tools": []}, 1, id="empty, as /context sends tools"),
    ],
)
def test_count_input_tokens(body: dict[str, Any], expected: int) -> None:
    assert count_input_tokens(body) == expected


def test_count_of_the_claude_code_request() -> None:
    body = claude_code_body()
    text = sum(len(b["text"]) for b in body["system"]) + sum(
        len(m["content"])
        if isinstance(m["content"], str)
        else sum(len(b["text"]) for b in m["content"])
        for m in body["messages"]
    )
    tool_text = sum(
        len(t["name"]) + len(t["description"]) + len(orjson.dumps(t["input_schema"]).decode())
        for t in body["tools"]
    )
    framing = MESSAGE_OVERHEAD * 3 + TOOLS_OVERHEAD + TOOL_OVERHEAD * 24
    # Mostly ASCII, with a few typographic characters below U+2E80 (one unit each).
    assert count_input_tokens(body) == tokens(text + tool_text) + framing


def sse_event(payload: dict[str, Any]) -> bytes:
    return f"event: {payload['type']}\ndata: {json.dumps(payload)}\n\n".encode()


START = MessagesEvents(base(), MESSAGE_ID, 1).start()
TEXT = sse_event(
    {"type": "content_block_start", "index": 0, "content_block": {"type": "text", "text": ""}}
)
DELTA = sse_event(
    {"type": "content_block_delta", "index": 0, "delta": {"type": "text_delta", "text": "a"}}
)
STOP = sse_event({"type": "content_block_stop", "index": 0})
END = MessagesEvents(base(), MESSAGE_ID, 1).finish(Usage(1, 1))


@pytest.mark.parametrize(
    "events",
    [
        pytest.param([*START, DELTA, STOP, *END], id="a delta before its block"),
        pytest.param([*START, TEXT, DELTA, *END], id="a block never closed"),
        pytest.param([*START, TEXT, TEXT, STOP, *END], id="two blocks open"),
        pytest.param(
            [*START, TEXT.replace(b'"index": 0', b'"index": 1'), *END], id="an index skipped"
        ),
        pytest.param([*START, TEXT, DELTA, STOP, END[1], END[0]], id="message_stop first"),
        pytest.param([TEXT, *START, STOP, *END], id="no message_start first"),
        pytest.param(
            [*START, DELTA.replace(b"text_delta", b"input_json_delta"), *END], id="a wrong delta"
        ),
    ],
)
def test_the_stream_check_catches_a_broken_stream(events: list[bytes]) -> None:
    with pytest.raises((AssertionError, ValueError)):
        check_stream(events)
