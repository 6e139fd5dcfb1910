"""Edge's input checks: OpenAI's status, code and wording, the field named, unknown fields
untouched, and the summary edge signs for the tiers behind it."""

from __future__ import annotations

from typing import Any

import orjson
import pytest

from edge.validation import Bodies, Limits, check_content_type, check_header_size
from gateway_shared.errors import GatewayError
from gateway_shared.wire.identity import Api, RequestSummary

BODIES = Bodies(Limits())
MESSAGES = [{"role": "user", "content": "hi"}]


def check(api: Api, body: Any, bodies: Bodies = BODIES) -> tuple[dict[str, Any], RequestSummary]:
    raw = body if isinstance(body, bytes) else orjson.dumps(body)
    return bodies.check(api, raw)


def refused(api: Api, body: Any, bodies: Bodies = BODIES) -> GatewayError:
    with pytest.raises(GatewayError) as caught:
        check(api, body, bodies)
    assert caught.value.status == 400
    return caught.value


def chat(**fields: Any) -> dict[str, Any]:
    return {"model": "m", "messages": MESSAGES, **fields}


def test_a_valid_body_passes_with_unknown_fields_untouched() -> None:
    body, _ = check(Api.CHAT, chat(top_k=3, guided_json={"type": "object"}))
    assert body["top_k"] == 3


def test_the_summary_says_what_the_inner_tiers_need() -> None:
    _, summary = check(Api.CHAT, chat(stream=True, max_completion_tokens=50, max_tokens=9))
    assert summary == RequestSummary(Api.CHAT, "m", True, summary.prompt_tokens, 50)
    assert summary.prompt_tokens > 0
    _, embedding = check(Api.EMBEDDINGS, {"model": "e", "input": "text", "stream": True})
    assert (embedding.stream, embedding.max_output_tokens) == (False, None)


@pytest.mark.parametrize(
    ("api", "body", "param", "code"),
    [
        (Api.CHAT, {"messages": MESSAGES}, "model", "missing_required_parameter"),
        (Api.CHAT, {"model": "", "messages": MESSAGES}, "model", "invalid_type"),
        (Api.CHAT, {"model": "m"}, "messages", "missing_required_parameter"),
        (Api.CHAT, chat(messages=[]), "messages", "empty_array"),
        (Api.CHAT, chat(messages="hi"), "messages", "invalid_type"),
        (
            Api.CHAT,
            chat(messages=[{"content": "x"}]),
            "messages[0].role",
            "missing_required_parameter",
        ),
        (Api.CHAT, chat(messages=[{"role": "robot"}]), "messages[0].role", "invalid_value"),
        (
            Api.CHAT,
            chat(messages=[{"role": "user", "content": 3}]),
            "messages[0].content",
            "invalid_type",
        ),
        (Api.CHAT, chat(temperature="hot"), "temperature", "invalid_type"),
        (Api.CHAT, chat(temperature=2.5), "temperature", "decimal_above_max_value"),
        (Api.CHAT, chat(top_p=-0.1), "top_p", "decimal_below_min_value"),
        (Api.CHAT, chat(presence_penalty=3), "presence_penalty", "decimal_above_max_value"),
        (Api.CHAT, chat(n=0), "n", "integer_below_min_value"),
        (Api.CHAT, chat(n=1.5), "n", "invalid_type"),
        (Api.CHAT, chat(max_tokens=True), "max_tokens", "invalid_type"),
        (Api.CHAT, chat(max_tokens=0), "max_tokens", "integer_below_min_value"),
        (Api.CHAT, chat(stream="yes"), "stream", "invalid_type"),
        (Api.CHAT, chat(stream_options=1), "stream_options", "invalid_type"),
        (Api.CHAT, chat(stream_options={"include_usage": True}), "stream_options", None),
        (Api.CHAT, chat(stop=["a", "b", "c", "d", "e"]), "stop", "array_above_max_length"),
        (Api.CHAT, chat(stop=7), "stop", "invalid_type"),
        (Api.CHAT, chat(logit_bias={"50256": 101}), "logit_bias.50256", "integer_above_max_value"),
        (Api.CHAT, chat(top_logprobs=3), "top_logprobs", None),
        (Api.CHAT, chat(user=None), "user", "invalid_type"),
        (Api.CHAT, chat(parallel_tool_calls=None), "parallel_tool_calls", "invalid_type"),
        (Api.CHAT, chat(tools={"type": "function"}), "tools", "invalid_type"),
        (
            Api.CHAT,
            chat(tools=[{"type": "function"}]),
            "tools[0].function",
            "missing_required_parameter",
        ),
        (
            Api.CHAT,
            chat(tools=[{"type": "function", "function": {}}]),
            "tools[0].function.name",
            "missing_required_parameter",
        ),
        (Api.CHAT, chat(tool_choice="always"), "tool_choice", "invalid_value"),
        (Api.CHAT, chat(response_format={"type": "yaml"}), "response_format.type", "invalid_value"),
        (
            Api.CHAT,
            chat(safety_identifier="x" * 65),
            "safety_identifier",
            "string_above_max_length",
        ),
        (Api.COMPLETIONS, {"model": "m"}, "prompt", "missing_required_parameter"),
        (Api.COMPLETIONS, {"model": "m", "prompt": {"text": "x"}}, "prompt", "invalid_type"),
        (Api.COMPLETIONS, {"model": "m", "prompt": [[1, 2], "x"]}, "prompt[1]", "invalid_type"),
        (
            Api.COMPLETIONS,
            {"model": "m", "prompt": "x", "logprobs": 6},
            "logprobs",
            "integer_above_max_value",
        ),
        (Api.EMBEDDINGS, {"model": "m"}, "input", "missing_required_parameter"),
        (Api.EMBEDDINGS, {"model": "m", "input": []}, "input", "empty_array"),
        (
            Api.EMBEDDINGS,
            {"model": "m", "input": "x", "encoding_format": "int8"},
            "encoding_format",
            "invalid_value",
        ),
        (Api.CHAT, b'"just a string"', "body", "invalid_type"),
    ],
)
def test_wrong_fields_are_400_naming_the_field(
    api: Api, body: Any, param: str, code: str | None
) -> None:
    error = refused(api, body)
    assert (error.param, error.code) == (param, code)


def test_messages_say_what_was_expected_and_what_came() -> None:
    assert refused(Api.CHAT, chat(temperature="hot")).message == (
        "Invalid type for 'temperature': expected a decimal, but got a string instead."
    )
    assert refused(Api.CHAT, chat(n=130)).message == (
        "Invalid 'n': integer above maximum value. Expected a value <= 128, but got 130 instead."
    )
    assert refused(Api.CHAT, chat(messages=[{"role": "robot"}])).message == (
        "Invalid value: 'robot'. Supported values are: 'system', 'assistant', 'user', "
        "'function', 'tool', and 'developer'."
    )


@pytest.mark.parametrize(
    "body",
    [
        chat(temperature=0, top_p=1, n=None, stop="x", seed=-5, logprobs=True, top_logprobs=2),
        chat(tools=[{"type": "function", "function": {"name": "f"}}], tool_choice="required"),
        chat(tool_choice={"type": "function", "function": {"name": "f"}}, user="u"),
        chat(messages=[{"role": "assistant", "content": None, "tool_calls": []}]),
        chat(stream=True, stream_options={"include_usage": True}),
    ],
)
def test_what_openai_accepts_passes(body: dict[str, Any]) -> None:
    check(Api.CHAT, body)


@pytest.mark.parametrize(
    ("api", "body"),
    [
        # The Agents SDK sends `tools: []` and `include: []` for an agent without tools.
        (Api.RESPONSES, {"model": "m", "input": "hi", "tools": [], "include": []}),
        (
            Api.MESSAGES,
            {
                "model": "m",
                "max_tokens": 16,
                "messages": MESSAGES,
                "tools": [],
                "stop_sequences": [],
            },
        ),
    ],
)
def test_empty_arrays_pass_where_the_imitated_api_takes_them(
    api: Api, body: dict[str, Any]
) -> None:
    check(api, body)


def test_chat_refuses_empty_tools_as_openai_does() -> None:
    assert refused(Api.CHAT, chat(tools=[])).code == "empty_array"


def test_token_arrays_are_prompts_and_inputs() -> None:
    check(Api.COMPLETIONS, {"model": "m", "prompt": [1, 2, 3]})
    check(Api.COMPLETIONS, {"model": "m", "prompt": [[1, 2], [3]]})
    check(Api.EMBEDDINGS, {"model": "m", "input": ["a", "b"]})


def test_malformed_json_is_400_invalid_json() -> None:
    assert refused(Api.CHAT, b"{not json").code == "invalid_json"


@pytest.mark.parametrize("ok", [None, "application/json", "application/json; charset=utf-8"])
def test_json_content_types_pass(ok: str | None) -> None:
    check_content_type(ok)


@pytest.mark.parametrize(
    "bad", ["text/plain", "multipart/form-data; boundary=x", "application/x-www-form-urlencoded"]
)
def test_other_content_types_are_415(bad: str) -> None:
    with pytest.raises(GatewayError) as caught:
        check_content_type(bad)
    assert caught.value.status == 415


def test_nesting_beyond_the_limit_is_400() -> None:
    deep = b'{"model": "m", "messages": [{"role": "user"}], "x": ' + b"[" * 40 + b"]" * 40 + b"}"
    assert refused(Api.CHAT, deep).code == "nesting_too_deep"
    shallow = b'{"model": "m", "messages": [{"role": "user"}], "x": ' + b"[" * 20 + b"]" * 20 + b"}"
    assert check(Api.CHAT, shallow)[0]["model"] == "m"


def test_the_operators_limits_narrow_the_ranges() -> None:
    bodies = Bodies(Limits(max_messages=2, max_n=4, max_tokens=100))
    many = chat(messages=[{"role": "user"}] * 3)
    assert (refused(Api.CHAT, many, bodies).param, refused(Api.CHAT, many, bodies).code) == (
        "messages",
        "array_above_max_length",
    )
    for field, value in (("n", 5), ("max_tokens", 101), ("max_completion_tokens", 101)):
        error = refused(Api.CHAT, chat(**{field: value}), bodies)
        assert (error.param, error.code) == (field, "integer_above_max_value")


def test_oversized_headers_are_431() -> None:
    with pytest.raises(GatewayError) as caught:
        check_header_size([(b"x-big", b"v" * 20_000)], 16 * 1024)
    assert caught.value.status == 431
    check_header_size([(b"x-small", b"v" * 100)], 16 * 1024)
