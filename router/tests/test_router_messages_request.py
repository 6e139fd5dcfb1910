"""Messages API requests to chat completions (``router.providers.messages_request``): each
request rule, every translated request checked against OpenAI's OpenAPI description."""

from __future__ import annotations

import json
from typing import Any

import orjson
import pytest

from router.providers.errors import ProviderRejected
from router.providers.messages_request import chat_request
from tests.support.messages_bodies import CACHE, IMAGE, base, claude_code_body, translate


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
