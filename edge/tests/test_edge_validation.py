"""Edge's input checks: the field named, the right status, nothing else touched."""

from __future__ import annotations

import pytest

from edge.validation import (
    CHAT,
    COMPLETIONS,
    EMBEDDINGS,
    Limits,
    check_content_type,
    check_header_size,
    parse_body,
)
from gateway_shared.errors import GatewayError


def test_a_valid_body_passes_with_unknown_fields_untouched() -> None:
    body = parse_body(
        b'{"model": "m", "messages": [{"role": "user", "content": "hi"}], "top_k": 3}', CHAT
    )
    assert body["top_k"] == 3


@pytest.mark.parametrize(
    ("raw", "path", "param"),
    [
        (b'{"messages": []}', CHAT, "model"),
        (b'{"model": "", "messages": [{"role": "user"}]}', CHAT, "model"),
        (b'{"model": "m", "messages": []}', CHAT, "messages"),
        (b'{"model": "m", "messages": [{"content": "no role"}]}', CHAT, "messages[0]"),
        (b'{"model": "m", "messages": [{"role": "user"}], "n": 0}', CHAT, "n"),
        (b'{"model": "m", "messages": [{"role": "user"}], "max_tokens": true}', CHAT, "max_tokens"),
        (
            b'{"model": "m", "messages": [{"role": "user"}], "stream_options": 1}',
            CHAT,
            "stream_options",
        ),
        (b'{"model": "m"}', COMPLETIONS, "prompt"),
        (b'{"model": "m"}', EMBEDDINGS, "input"),
        (b'"just a string"', CHAT, "body"),
    ],
)
def test_wrong_fields_are_400_naming_the_field(raw: bytes, path: str, param: str) -> None:
    with pytest.raises(GatewayError) as caught:
        parse_body(raw, path)
    assert caught.value.status == 400
    assert caught.value.param == param


def test_malformed_json_is_400_invalid_json() -> None:
    with pytest.raises(GatewayError) as caught:
        parse_body(b"{not json", CHAT)
    assert (caught.value.status, caught.value.code) == (400, "invalid_json")


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
    with pytest.raises(GatewayError) as caught:
        parse_body(deep, CHAT)
    assert caught.value.code == "nesting_too_deep"
    shallow = b'{"model": "m", "messages": [{"role": "user"}], "x": ' + b"[" * 20 + b"]" * 20 + b"}"
    assert parse_body(shallow, CHAT)["model"] == "m"


def test_bounds_on_messages_n_and_max_tokens() -> None:
    limits = Limits(max_messages=2, max_n=4, max_tokens=100)
    many = b'{"model": "m", "messages": [{"role": "user"}, {"role": "user"}, {"role": "user"}]}'
    with pytest.raises(GatewayError) as caught:
        parse_body(many, CHAT, limits)
    assert caught.value.param == "messages"
    for field, value in (("n", 5), ("max_tokens", 101), ("max_completion_tokens", 101)):
        raw = b'{"model": "m", "messages": [{"role": "user"}], "%s": %d}' % (field.encode(), value)
        with pytest.raises(GatewayError) as caught:
            parse_body(raw, CHAT, limits)
        assert (caught.value.param, caught.value.code) == (field, "invalid_value")


def test_oversized_headers_are_431() -> None:
    with pytest.raises(GatewayError) as caught:
        check_header_size([(b"x-big", b"v" * 20_000)], 16 * 1024)
    assert caught.value.status == 431
    check_header_size([(b"x-small", b"v" * 100)], 16 * 1024)
