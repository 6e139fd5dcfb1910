"""The simulator refuses what vLLM v0.11.0 refuses, and answers as vLLM answers.

One case per rule: a body, then the status, vLLM's error ``type`` and the message. For
request validation the message is the ``repr`` of pydantic's error list, built here from
the same entries pydantic reports (taken from vLLM v0.11.0's request models run under
pydantic 2.11 and FastAPI 0.118); where that list is long (unions) a case names its key
part. Every error answer has vLLM's envelope: ``param`` null, ``code`` the status.
"""

from __future__ import annotations

import json
from collections.abc import AsyncIterator
from dataclasses import dataclass
from typing import Any

import httpx
import orjson
import pytest

from simulator.app import create_app
from simulator.settings import SimulatorSettings

CHAT = "/v1/chat/completions"
COMPLETIONS = "/v1/completions"
EMBEDDINGS = "/v1/embeddings"
MESSAGES: list[Any] = [{"role": "user", "content": "hi"}]
VLLM_MODEL = "function-wrap[__log_extra_fields__()]"

NUMBER = "Input should be a valid number, unable to parse string as a number"
INTEGER = "Input should be a valid integer, unable to parse string as an integer"
FRACTION = "Input should be a valid integer, got a number with a fractional part"
BOOLEAN = "Input should be a valid boolean, unable to interpret input"
STRING = "Input should be a valid string"
LIST = "Input should be a valid list"
REQUIRED = "Field required"
USAGE = 'Correct usage: `{"type": "function", "function": {"name": "my_function"}}`'


def chat(**fields: Any) -> dict[str, Any]:
    return {"model": "sim-model", "messages": MESSAGES, **fields}


def completion(**fields: Any) -> dict[str, Any]:
    return {"model": "sim-model", "prompt": "hi", **fields}


def embedding(**fields: Any) -> dict[str, Any]:
    return {"model": "sim-embed", "input": "hi", **fields}


def err(kind: str, loc: tuple[Any, ...], msg: str, value: Any, **ctx: Any) -> dict[str, Any]:
    entry = {"type": kind, "loc": ("body", *loc), "msg": msg, "input": value}
    if ctx:
        entry["ctx"] = ctx
    return entry


def value_error(text: str, body: dict[str, Any]) -> dict[str, Any]:
    return err("value_error", (), f"Value error, {text}", body, error=ValueError(text))


def literal(loc: tuple[Any, ...], expected: str, value: Any) -> dict[str, Any]:
    return err("literal_error", loc, f"Input should be {expected}", value, expected=expected)


@dataclass(frozen=True)
class Invalid:
    """A body vLLM's request validation refuses: 400 "Bad Request"."""

    name: str
    path: str
    body: dict[str, Any]
    # The whole error list, or (for long union errors) a part of its repr.
    errors: list[dict[str, Any]] | str


def _invalid(name: str, body: dict[str, Any], errors: Any, path: str = CHAT) -> Invalid:
    return Invalid(name, path, body, errors)


def _validator(name: str, body: dict[str, Any], text: str, path: str = CHAT) -> Invalid:
    return Invalid(name, path, body, [value_error(text, body)])


_ONE_TOOL = [{"type": "function", "function": {"name": "y"}}]

INVALID = [
    # -- field types, as pydantic's lax mode checks them
    _invalid("float: not a number", chat(temperature="hot"),
             [err("float_parsing", ("temperature",), NUMBER, "hot")]),
    _invalid("int: a fractional float", chat(n=1.5),
             [err("int_from_float", ("n",), FRACTION, 1.5)]),
    _invalid("int: not an integer string", chat(max_tokens="abc"),
             [err("int_parsing", ("max_tokens",), INTEGER, "abc")]),
    _invalid("bool: not a boolean", chat(stream=2), [err("bool_parsing", ("stream",), BOOLEAN, 2)]),
    _invalid("string: a number", chat(user=123), [err("string_type", ("user",), STRING, 123)]),
    _invalid("seed beyond int64", chat(seed=2**63),
             [err("less_than_equal", ("seed",),
                  "Input should be less than or equal to 9223372036854775807", 2**63,
                  le=2**63 - 1)]),
    _invalid("truncate_prompt_tokens below -1", chat(truncate_prompt_tokens=-2),
             [err("greater_than_equal", ("truncate_prompt_tokens",),
                  "Input should be greater than or equal to -1", -2, ge=-1)]),
    _invalid("reasoning_effort outside vLLM's literals", chat(reasoning_effort="minimal"),
             [literal(("reasoning_effort",), "'low', 'medium' or 'high'", "minimal")]),
    _invalid("stop: neither a string nor a list", chat(stop=5),
             [err("string_type", ("stop", "str"), STRING, 5),
              err("list_type", ("stop", "list[str]"), LIST, 5)]),
    _invalid("logit_bias: a value that is not a number", chat(logit_bias={"50256": "x"}),
             [err("float_parsing", ("logit_bias", "50256"), NUMBER, "x")]),
    _invalid("stream_options: not an object", chat(stream=True, stream_options=5),
             [err("model_attributes_type", ("stream_options",),
                  "Input should be a valid dictionary or object to extract fields from", 5)]),
    _invalid("tools: an entry of the wrong type", chat(tools=[{"type": "x"}]),
             [literal(("tools", 0, "type"), "'function'", "x"),
              err("missing", ("tools", 0, "function"), REQUIRED, {"type": "x"})]),
    _invalid("response_format: an unknown type", chat(response_format={"type": "xml"}),
             f"'loc': ('body', 'response_format', '{VLLM_MODEL}', 'type'), "
             "'msg': \"Input should be 'text', 'json_object' or 'json_schema'\""),
    _invalid("messages: missing", {"model": "sim-model"},
             [err("missing", ("messages",), REQUIRED, {"model": "sim-model"})]),
    _invalid("messages: not a list", chat(messages="hi"),
             [err("list_type", ("messages",), LIST, "hi")]),
    _invalid("messages: one without a role", chat(messages=[{"content": "hi"}]),
             "'loc': ('body', 'messages', 0, 'CustomChatCompletionMessageParam', 'role'), "
             "'msg': 'Field required'"),
    _invalid("messages: one that is not an object", chat(messages=[5]),
             "'loc': ('body', 'messages', 0, 'CustomChatCompletionMessageParam'), "
             "'msg': 'Input should be a valid dictionary'"),
    _invalid("several field errors come together, in field order",
             chat(temperature="hot", n="x"),
             [err("int_parsing", ("n",), INTEGER, "x"),
              err("float_parsing", ("temperature",), NUMBER, "hot")]),
    # -- the model validators: the first one to fail is the only error
    _validator("stream_options without stream", chat(stream_options={"include_usage": True}),
               "Stream options can only be defined when `stream=True`."),
    _validator("a validator's error hides the field errors",
               chat(temperature="hot", stream_options={"include_usage": True}),
               "Stream options can only be defined when `stream=True`."),
    _validator("top_logprobs without logprobs", chat(top_logprobs=5),
               "when using `top_logprobs`, `logprobs` must be set to true."),
    _validator("top_logprobs below -1", chat(logprobs=True, top_logprobs=-2),
               "`top_logprobs` must be a positive value or -1."),
    _validator("prompt_logprobs on a stream", chat(stream=True, prompt_logprobs=1),
               "`prompt_logprobs` are not available when `stream=True`."),
    _validator("prompt_logprobs below -1", chat(prompt_logprobs=-2),
               "`prompt_logprobs` must be a positive value or -1."),
    _validator("tool_choice without tools", chat(tool_choice="auto"),
               "When using `tool_choice`, `tools` must be set."),
    _validator("tool_choice: an unknown value", chat(tool_choice="bogus", tools=[]),
               'Invalid value for `tool_choice`: bogus! Only named tools, "none", "auto" or '
               '"required" are supported.'),
    _validator("named tool_choice without a function",
               chat(tool_choice={"type": "function"}, tools=_ONE_TOOL),
               f"Invalid value for `function`: `None` in `tool_choice`! {USAGE}"),
    _validator("named tool_choice without a name",
               chat(tool_choice={"type": "function", "function": {}}, tools=_ONE_TOOL),
               f"Expected field `name` in `function` in `tool_choice`! {USAGE}"),
    _validator("named tool_choice with an empty name",
               chat(tool_choice={"type": "function", "function": {"name": ""}}, tools=_ONE_TOOL),
               f"Invalid `name` in `function`: `` in `tool_choice`! {USAGE}"),
    _validator("named tool_choice not among the tools",
               chat(tool_choice={"type": "function", "function": {"name": "x"}}, tools=_ONE_TOOL),
               "The tool specified in `tool_choice` does not match any of the specified `tools`"),
    _validator("continue_final_message and add_generation_prompt",
               chat(continue_final_message=True, add_generation_prompt=True),
               "Cannot set both `continue_final_message` and `add_generation_prompt` to True."),
    _validator("an empty cache_salt", chat(cache_salt=""),
               "Parameter 'cache_salt' must be a non-empty string if provided."),
    _validator("several structured_outputs constraints",
               chat(structured_outputs={"json": {}, "regex": "a"}),
               "You can only use one kind of constraints for structured outputs "
               "('json', 'regex' or 'choice')."),
    # -- completions
    _validator("completions: no prompt", {"model": "sim-model"},
               "Either prompt or prompt_embeds must be provided and non-empty.", COMPLETIONS),
    _validator("completions: an empty prompt", completion(prompt=""),
               "Either prompt or prompt_embeds must be provided and non-empty.", COMPLETIONS),
    _validator("completions: negative logprobs", completion(logprobs=-1),
               "`logprobs` must be a positive value.", COMPLETIONS),
    _validator("completions: stream_options without stream",
               completion(stream_options={"include_usage": True}),
               "Stream options can only be defined when `stream=True`.", COMPLETIONS),
    _invalid("completions: n is not optional", completion(n=None),
             [err("int_type", ("n",), "Input should be a valid integer", None)], COMPLETIONS),
    _invalid("completions: a prompt of the wrong type", completion(prompt=3),
             [err("list_type", ("prompt", "list[int]"), LIST, 3),
              err("list_type", ("prompt", "list[list[int]]"), LIST, 3),
              err("string_type", ("prompt", "str"), STRING, 3),
              err("list_type", ("prompt", "list[str]"), LIST, 3)], COMPLETIONS),
    # -- embeddings: a body that fits neither member of vLLM's union gets both's errors
    _invalid("embeddings: no input", {"model": "sim-embed"},
             [err("missing", (VLLM_MODEL, "input"), REQUIRED, {"model": "sim-embed"}),
              err("missing", (VLLM_MODEL, "messages"), REQUIRED, {"model": "sim-embed"})],
             EMBEDDINGS),
    _invalid("embeddings: an unknown encoding_format", embedding(encoding_format="int8"),
             [literal((VLLM_MODEL, "encoding_format"), "'float' or 'base64'", "int8"),
              err("missing", (VLLM_MODEL, "messages"), REQUIRED, embedding(encoding_format="int8")),
              literal((VLLM_MODEL, "encoding_format"), "'float' or 'base64'", "int8")],
             EMBEDDINGS),
    _invalid("embeddings: dimensions not an integer", embedding(dimensions="abc"),
             f"{{'type': 'int_parsing', 'loc': ('body', '{VLLM_MODEL}', 'dimensions')", EMBEDDINGS),
    _invalid("embeddings: an input of the wrong type", embedding(input=5),
             f"{{'type': 'list_type', 'loc': ('body', '{VLLM_MODEL}', 'input', 'list[int]')",
             EMBEDDINGS),
]  # fmt: skip


@dataclass(frozen=True)
class Refused:
    """A body that passes validation and is refused by vLLM's serving code."""

    name: str
    path: str
    body: dict[str, Any]
    message: str
    status: int = 400
    type_: str = "BadRequestError"


REFUSED = [
    # -- the model (after validation, before everything else)
    Refused("an unknown model", CHAT, chat(model="gpt-nope", temperature=-1),
            "The model `gpt-nope` does not exist.", 404, "NotFoundError"),
    Refused("completions: an unknown model", COMPLETIONS, completion(model="nope"),
            "The model `nope` does not exist.", 404, "NotFoundError"),
    Refused("embeddings: an unknown model", EMBEDDINGS, embedding(model="nope"),
            "The model `nope` does not exist.", 404, "NotFoundError"),
    # -- the serving code
    Refused("a chat_template in the request", CHAT, chat(chat_template="{{ x }}"),
            "Chat template is passed with request, but --trust-request-chat-template is not "
            "set. Refused request with untrusted chat template."),
    Refused("completions: suffix", COMPLETIONS, completion(suffix="!"),
            "suffix is not currently supported"),
    Refused("completions: echo with prompt_embeds", COMPLETIONS,
            completion(echo=True, prompt_embeds="AAAA"), "Echo is unsupported with prompt embeds."),
    Refused("logits_processors", CHAT, chat(logits_processors=["my.Processor"]),
            "The `logits_processors` argument is not supported by this server. See "
            "--logits-processor-pattern engine argument for more information."),
    Refused("logit_bias: a key that is not a token id", CHAT, chat(logit_bias={"abc": 1}),
            "invalid literal for int() with base 10: 'abc'"),
    Refused("embeddings: dimensions below 1", EMBEDDINGS, embedding(dimensions=0),
            "Dimensions must be greater than 0"),
    # -- SamplingParams
    Refused("temperature below 0", CHAT, chat(temperature=-1),
            "temperature must be non-negative, got -1.0."),
    Refused("top_p of 0", CHAT, chat(top_p=0), "top_p must be in (0, 1], got 0.0."),
    Refused("top_p above 1", CHAT, chat(top_p="1.5"), "top_p must be in (0, 1], got 1.5."),
    Refused("top_k below -1", CHAT, chat(top_k=-2),
            "top_k must be 0 (disable), or at least 1, got -2."),
    Refused("min_p above 1", CHAT, chat(min_p=1.5), "min_p must be in [0, 1], got 1.5."),
    Refused("presence_penalty above 2", CHAT, chat(presence_penalty=3),
            "presence_penalty must be in [-2, 2], got 3.0."),
    Refused("frequency_penalty below -2", CHAT, chat(frequency_penalty=-2.5),
            "frequency_penalty must be in [-2, 2], got -2.5."),
    Refused("repetition_penalty of 0", CHAT, chat(repetition_penalty=0),
            "repetition_penalty must be greater than zero, got 0.0."),
    Refused("n of 0", CHAT, chat(n=0), "n must be at least 1, got 0."),
    Refused("max_tokens of 0", CHAT, chat(max_tokens=0), "max_tokens must be at least 1, got 0."),
    Refused("negative max_completion_tokens", CHAT, chat(max_completion_tokens=-1),
            "max_tokens must be at least 1, got -1."),
    Refused("completions: max_tokens of 0", COMPLETIONS, completion(max_tokens=0),
            "max_tokens must be at least 1, got 0."),
    Refused("negative min_tokens", CHAT, chat(min_tokens=-1),
            "min_tokens must be greater than or equal to 0, got -1."),
    Refused("min_tokens above max_tokens", CHAT, chat(min_tokens=20, max_tokens=16),
            "min_tokens must be less than or equal to max_tokens=16, got 20."),
    Refused("an empty stop string", CHAT, chat(stop=["end", ""]),
            "stop cannot contain an empty string."),
    Refused("n above 1 with greedy sampling", CHAT, chat(n=2, temperature=0),
            "n must be 1 when using greedy sampling, got 2."),
    Refused("best_of below n", COMPLETIONS, completion(n=2, best_of=1),
            "best_of must be greater than or equal to n, got n=2 and best_of=1."),
    Refused("best_of of 0", COMPLETIONS, completion(best_of=0),
            "best_of must be at least 1, got 0"),
    Refused("best_of other than n on a stream", COMPLETIONS, completion(best_of=2, stream=True),
            "best_of must equal n to use output_kind=DELTA"),
    Refused("several deprecated guided_* constraints", CHAT,
            chat(guided_json={"type": "object"}, guided_regex="a+"),
            "You can only use one kind of structured outputs constraint but multiple are "
            "specified: {'json': {'type': 'object'}, 'regex': 'a+', 'choice': None, 'grammar': "
            "None, 'json_object': None, 'disable_fallback': False, 'disable_any_whitespace': "
            "False, 'disable_additional_properties': False, 'whitespace_pattern': None, "
            "'structural_tag': None, '_backend': None, '_backend_was_auto': False}"),
    # -- the engine (a whole answer: 400; a stream: see test_engine_errors_on_a_stream)
    Refused("more than 20 logprobs", CHAT, chat(logprobs=True, top_logprobs=25),
            "Requested sample logprobs of 25, which is greater than max allowed: 20"),
    Refused("completions: more than 20 prompt logprobs", COMPLETIONS,
            completion(prompt_logprobs=21),
            "Requested prompt logprobs of 21, which is greater than max allowed: 20"),
    Refused("empty allowed_token_ids", CHAT, chat(allowed_token_ids=[]),
            "allowed_token_ids is not None and empty!"),
    Refused("best_of above 1", COMPLETIONS, completion(n=2, best_of=2),
            "vLLM V1 does not yet support best_of."),
]  # fmt: skip

# Bodies vLLM accepts, many of which OpenAI would refuse: they must keep passing.
ACCEPTED = [
    ("numeric string for a number", CHAT, chat(temperature="0.5")),
    ("boolean for a number", CHAT, chat(temperature=True)),
    ("integral float for an integer", CHAT, chat(n=2.0)),
    ("string for an integer", CHAT, chat(max_tokens=" 8 ")),
    ("'yes' for a boolean", CHAT, chat(logprobs="yes")),
    ("1 for a boolean", COMPLETIONS, completion(echo=1)),
    ("null for optional fields", CHAT,
     chat(n=None, temperature=None, stream=None, parallel_tool_calls=None, stop=None, seed=None)),
    ("unknown fields", CHAT, chat(foo=1, service_tier="flex", metadata={"a": "b"}, store=True)),
    ("no model: the served one", CHAT, {"messages": MESSAGES}),
    ("an empty model name", EMBEDDINGS, embedding(model="")),
    ("temperature above 2", CHAT, chat(temperature=5)),
    ("n above 128", CHAT, chat(n=200, max_tokens=1)),
    ("more than 4 stop strings", CHAT, chat(stop=["a", "b", "c", "d", "e"])),
    ("logit_bias beyond +-100 (clamped)", CHAT, chat(logit_bias={"42": 500})),
    ("no messages", CHAT, chat(messages=[])),
    ("any string role", CHAT, chat(messages=[{"role": "narrator", "content": "once"}])),
    ("tool_choice 'required' with no tools", CHAT, chat(tool_choice="required", tools=[])),
    ("20 top_logprobs", CHAT, chat(logprobs=True, top_logprobs=20)),
    ("max_completion_tokens of 0 (unset)", CHAT, chat(max_completion_tokens=0)),
    ("an empty stream_options without stream", CHAT, chat(stream_options={})),
    ("a tiny temperature with n > 1 (raised to 0.01)", CHAT, chat(temperature=1e-6, n=2)),
    ("top_k of -1", CHAT, chat(top_k=-1)),
    ("beam search skips the sampling checks", CHAT, chat(use_beam_search=True, top_p=0)),
    ("echo with max_tokens 0", COMPLETIONS, completion(echo=True, max_tokens=0)),
    ("float token ids", COMPLETIONS, completion(prompt=[1.0, 2.0])),
    ("embeddings of messages", EMBEDDINGS, {"model": "sim-embed", "messages": MESSAGES}),
    ("embeddings: dimensions", EMBEDDINGS, embedding(dimensions=4)),
]  # fmt: skip


@pytest.fixture
async def vllm() -> AsyncIterator[httpx.AsyncClient]:
    app = create_app(SimulatorSettings(models=["sim-model", "sim-embed"]))
    transport = httpx.ASGITransport(app=app)
    async with httpx.AsyncClient(transport=transport, base_url="http://sim") as http:
        yield http


def assert_vllm_error(response: httpx.Response, status: int, type_: str) -> str:
    assert response.status_code == status, response.text
    assert response.headers["content-type"].startswith("application/json")
    body = response.json()
    assert body == {"error": {"message": body["error"]["message"], "type": type_,
                              "param": None, "code": status}}  # fmt: skip
    message: str = body["error"]["message"]
    return message


@pytest.mark.parametrize("case", INVALID, ids=[c.name for c in INVALID])
async def test_request_validation_errors(vllm: httpx.AsyncClient, case: Invalid) -> None:
    message = assert_vllm_error(await vllm.post(case.path, json=case.body), 400, "Bad Request")
    if isinstance(case.errors, str):
        assert message.startswith("[{'type': ")
        assert case.errors in message
    else:
        assert message == repr(case.errors)


@pytest.mark.parametrize("case", REFUSED, ids=[c.name for c in REFUSED])
async def test_serving_and_sampling_errors(vllm: httpx.AsyncClient, case: Refused) -> None:
    response = await vllm.post(case.path, json=case.body)
    assert assert_vllm_error(response, case.status, case.type_) == case.message


@pytest.mark.parametrize(("name", "path", "body"), ACCEPTED, ids=[c[0] for c in ACCEPTED])
async def test_what_vllm_accepts_passes(
    vllm: httpx.AsyncClient, name: str, path: str, body: dict[str, Any]
) -> None:
    response = await vllm.post(path, json=body)
    assert response.status_code == 200, response.text


async def test_lax_values_take_effect(vllm: httpx.AsyncClient) -> None:
    body = chat(n="2", max_completion_tokens=0, max_tokens="3", stream="yes", stream_options={})
    async with vllm.stream("POST", CHAT, json=body) as response:
        assert response.headers["content-type"].startswith("text/event-stream")
        events = [line async for line in response.aiter_lines() if line.startswith("data: {")]
    chunks = [orjson.loads(line[6:]) for line in events]
    assert {c["index"] for chunk in chunks for c in chunk["choices"]} == {0, 1}
    # stream_options {} is StreamOptions(include_usage=True): the usage chunk comes.
    assert chunks[-1]["usage"]["completion_tokens"] == 2 * 3


@dataclass(frozen=True)
class Raw:
    name: str
    content: bytes
    content_type: str | None
    status: int
    message: str


_MEDIA = " [\"Unsupported Media Type: Only 'application/json' is allowed\"]"
RAW = [
    Raw("a Content-Type other than JSON", b'{"messages": []}', "text/plain", 400, _MEDIA),
    Raw("no Content-Type", b'{"messages": []}', None, 400, _MEDIA),
    Raw("a +json Content-Type", b'{"messages": []}', "application/vnd.x+json", 400, _MEDIA),
    Raw("JSON with a charset", b'{"messages": []}', "Application/JSON; charset=utf-8", 200, ""),
    Raw("malformed JSON (Python's json position and message)", b'{"messages": [',
        "application/json", 400, repr([err("json_invalid", (14,), "JSON decode error", {},
                       error="Expecting value")])),
    Raw("malformed JSON is reported before the media type", b"{", None, 400,
        repr([err("json_invalid", (1,), "JSON decode error", {},
                  error="Expecting property name enclosed in double quotes")])),
    Raw("an empty body", b"", "application/json", 400,
        repr([err("missing", (), REQUIRED, None)])),
    Raw("a null body", b"null", "application/json", 400,
        repr([err("missing", (), REQUIRED, None)])),
    Raw("NaN is a number, as in Python", b'{"messages": [], "temperature": NaN}',
        "application/json", 200, ""),
]  # fmt: skip


@pytest.mark.parametrize("case", RAW, ids=[c.name for c in RAW])
async def test_bodies_as_vllms_fastapi_reads_them(vllm: httpx.AsyncClient, case: Raw) -> None:
    headers = {"content-type": case.content_type} if case.content_type else {}
    request = vllm.build_request("POST", CHAT, content=case.content, headers=headers)
    if case.content_type is None:
        request.headers.pop("content-type", None)
    response = await vllm.send(request)
    if case.status == 200:
        assert response.status_code == 200, response.text
    else:
        assert assert_vllm_error(response, case.status, "Bad Request") == case.message


@pytest.mark.parametrize(
    "content",
    [b"[1, 2]", b'"text"', b"5", b'{"messages": [], "prompt_logprobs": "1"}',
     b'{"messages": [], "structured_outputs": [1]}'],
)  # fmt: skip
async def test_what_breaks_vllms_validators_is_a_plain_500(
    vllm: httpx.AsyncClient, content: bytes
) -> None:
    # vLLM's model validators call data.get() and compare values: anything but a
    # ValueError there escapes pydantic, and FastAPI answers a plain-text 500.
    response = await vllm.post(CHAT, content=content, headers={"content-type": "application/json"})
    assert response.status_code == 500
    assert response.headers["content-type"].startswith("text/plain")
    assert response.text == "Internal Server Error"


async def test_a_body_that_is_not_utf8(vllm: httpx.AsyncClient) -> None:
    response = await vllm.post(
        CHAT, content=b'{"model": "sim\xff"}', headers={"content-type": "application/json"}
    )
    assert response.status_code == 400
    assert response.json() == {"detail": "There was an error parsing the body"}


@pytest.mark.parametrize(
    ("path", "body", "message"),
    [
        (CHAT, chat(logprobs=True, top_logprobs=21),
         "Requested sample logprobs of 21, which is greater than max allowed: 20"),
        (CHAT, chat(allowed_token_ids=[]), "allowed_token_ids is not None and empty!"),
        (COMPLETIONS, completion(n=2, best_of=2), "vLLM V1 does not yet support best_of."),
    ],
)  # fmt: skip
async def test_engine_errors_on_a_stream(
    vllm: httpx.AsyncClient, path: str, body: dict[str, Any], message: str
) -> None:
    # The engine checks a request once its stream has started: HTTP 200, then the error.
    response = await vllm.post(path, json=body | {"stream": True})
    assert response.status_code == 200
    assert response.headers["content-type"].startswith("text/event-stream")
    # vLLM writes that event with json.dumps, spaces and all.
    error = {"error": {"message": message, "type": "BadRequestError", "param": None, "code": 400}}
    assert response.text == f"data: {json.dumps(error)}\n\ndata: [DONE]\n\n"


async def test_refusals_are_counted_as_rejected(vllm: httpx.AsyncClient) -> None:
    await vllm.post(CHAT, json=chat(temperature="hot"))
    await vllm.post(CHAT, json=chat(model="nope"))
    await vllm.post(CHAT, json=chat(top_p=0))
    await vllm.post(CHAT, json=chat(stream=True, allowed_token_ids=[]))
    stats = (await vllm.get("/admin/stats")).json()
    assert (stats["rejected"], stats["completed"], stats["in_flight"]) == (4, 0, 0)
