"""Responses API request bodies the translation's tests share: real clients' (Codex CLI
0.171.0, openai-agents 0.24.0, captured and trimmed) and two small tools. The request
tests translate them; the answer tests have the response echo them."""

from __future__ import annotations

import copy
from typing import Any

# --- captured client bodies (texts and schemas trimmed) ------------------------------

EXEC_COMMAND = {
    "type": "function",
    "name": "exec_command",
    "description": "Runs a command in a PTY, returning output or a session ID.",
    "strict": False,
    "parameters": {
        "type": "object",
        "properties": {"cmd": {"type": "string"}, "workdir": {"type": "string"}},
        "required": ["cmd"],
        "additionalProperties": False,
    },
}
VIEW_IMAGE = {
    "type": "function",
    "name": "view_image",
    "description": "View a local image file from the filesystem.",
    "strict": False,
    "parameters": {
        "type": "object",
        "properties": {"path": {"type": "string"}},
        "required": ["path"],
        "additionalProperties": False,
    },
}
RESUME_AGENT = {
    "type": "function",
    "name": "resume_agent",
    "description": "Resume a previously closed agent by id.",
    "strict": False,
    "parameters": {
        "type": "object",
        "properties": {"id": {"type": "string"}},
        "required": ["id"],
        "additionalProperties": False,
    },
}
WAIT_AGENT = {
    "type": "function",
    "name": "wait_agent",
    "description": "Wait for agents to reach a final status.",
    "strict": False,
    "parameters": {
        "type": "object",
        "properties": {"targets": {"type": "array", "items": {"type": "string"}}},
        "required": ["targets"],
        "additionalProperties": False,
    },
}
MULTI_AGENT = {
    "type": "namespace",
    "name": "multi_agent_v1",
    "description": "Tools for spawning and managing sub-agents.",
    "tools": [RESUME_AGENT, WAIT_AGENT],
}
WEB_SEARCH = {"type": "web_search", "external_web_access": False}

DEVELOPER = "You are a coding agent running in the Codex CLI, a terminal-based coding assistant."
SKILLS = "<skills_instructions>\n## Skills\nA skill is a set of local instructions."
PERMISSIONS = "<permissions instructions>\nFilesystem sandboxing defines which files can be read."
ENVIRONMENT = (
    "<environment_context>\n  <cwd>/tmp/run</cwd>\n  <shell>bash</shell>\n</environment_context>"
)
CODEX_CONTEXT = [
    {
        "type": "message",
        "id": "msg_89dc8e0e-3f5c",
        "role": "developer",
        "content": [{"type": "input_text", "text": DEVELOPER}],
    },
    {
        "type": "message",
        "id": "msg_01a23268-5bf2",
        "role": "developer",
        "content": [
            {"type": "input_text", "text": SKILLS},
            {"type": "input_text", "text": PERMISSIONS},
        ],
    },
    {
        "type": "message",
        "id": "msg_01a23268-5bf3",
        "role": "user",
        "content": [{"type": "input_text", "text": ENVIRONMENT}],
    },
]


def codex(*items: dict[str, Any]) -> dict[str, Any]:
    """A Codex ``codex exec`` request body: its context, then ``items``."""
    return {
        "model": "sim-chat",
        "stream": True,
        "input": [*copy.deepcopy(CODEX_CONTEXT), *items],
        "tools": [EXEC_COMMAND, VIEW_IMAGE, MULTI_AGENT, WEB_SEARCH],
        "tool_choice": "auto",
        "parallel_tool_calls": True,
        "reasoning": {"summary": "auto"},
        "store": False,
        "include": ["reasoning.encrypted_content"],
        "prompt_cache_key": "01a23268-5b91-7902-8e3c-d066fc1e640b",
        "client_metadata": {"x-codex-installation-id": "inst-1", "thread_id": "th-1"},
    }


def user(text: str) -> dict[str, Any]:
    return {"type": "message", "role": "user", "content": [{"type": "input_text", "text": text}]}


CODEX_TURN1 = codex(user("say hi"))
CODEX_AFTER_REASONING_TOOL = codex(
    user("run echo hi"),
    {
        "type": "reasoning",
        "id": "rs_7f4cd3db",
        "content": None,
        "summary": [{"type": "summary_text", "text": "**Plan** run echo"}],
        "encrypted_content": "ENC_OPAQUE_BLOB_123",
    },
    {
        "type": "function_call",
        "status": "completed",
        "id": "fc_64f9bb0c",
        "name": "exec_command",
        "arguments": '{"cmd": "echo hi"}',
        "call_id": "call_8e645f1b",
    },
    {
        "type": "function_call_output",
        "id": "fco_01a23264-6253",
        "call_id": "call_8e645f1b",
        "output": "Chunk ID: f080e4\nProcess exited with code 0\nOutput:\nhi\n",
    },
)
CODEX_RESUME = codex(
    user("say hi"),
    {
        "type": "message",
        "status": "completed",
        "id": "msg_9b562b8a",
        "role": "assistant",
        "content": [
            {"type": "output_text", "text": "hello from capture", "annotations": [], "logprobs": []}
        ],
    },
    user("say it again"),
)
CODEX_COMPACTION = {
    **codex(user("You are performing a CONTEXT CHECKPOINT COMPACTION.")),
    "tools": [],
}

GET_WEATHER = {
    "name": "get_weather",
    "parameters": {
        "properties": {"city": {"title": "City", "type": "string"}},
        "required": ["city"],
        "title": "get_weather_args",
        "type": "object",
        "additionalProperties": False,
    },
    "strict": True,
    "type": "function",
    "description": "Return the weather for a city.",
}
AGENTS_RUN_REQ1 = {
    "model": "sim-chat",
    "include": [],
    "input": [{"content": "weather in Paris?", "role": "user"}],
    "instructions": "You are a probe agent.",
    "tools": [GET_WEATHER],
}
AGENTS_STREAM_REQ1 = {**AGENTS_RUN_REQ1, "stream": True}
AGENTS_SETTINGS_REQ3 = {
    **AGENTS_RUN_REQ1,
    "input": [
        {"content": "weather in Paris?", "role": "user"},
        {
            "arguments": '{"city":"Paris"}',
            "call_id": "call_9ad69f9f",
            "name": "get_weather",
            "type": "function_call",
            "id": "fc_68022e11",
            "status": "completed",
        },
        {"call_id": "call_9ad69f9f", "output": "sunny in Paris", "type": "function_call_output"},
        {
            "id": "msg_04a51c78",
            "role": "assistant",
            "status": "completed",
            "type": "message",
            "content": [
                {
                    "annotations": [],
                    "text": "hello from capture",
                    "type": "output_text",
                    "logprobs": [],
                }
            ],
        },
        {"role": "user", "content": "and tomorrow?"},
    ],
    "max_output_tokens": 256,
    "metadata": {"k": "v"},
    "parallel_tool_calls": False,
    "reasoning": {"effort": "low"},
    "store": False,
    "temperature": 0.2,
    "text": {"verbosity": "low"},
    "tool_choice": "auto",
    "top_p": 0.9,
    "truncation": "auto",
}

# --- small tools, a function and a namespace ----------------------------------------

FN = {"type": "function", "name": "f", "parameters": {"type": "object"}, "strict": True}
NS = {
    "type": "namespace",
    "name": "ns",
    "description": "d",
    "tools": [
        {"type": "function", "name": "g", "description": "G", "parameters": None, "strict": None}
    ],
}
