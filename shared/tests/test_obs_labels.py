"""Label values stay bounded whatever a client or a provider sends."""

from __future__ import annotations

import orjson
import pytest

from gateway_shared.errors import error_body
from gateway_shared.observability import labels


@pytest.mark.parametrize(
    ("status", "expected"),
    [(200, "2xx"), (204, "2xx"), (404, "4xx"), (499, "4xx"), (503, "5xx"), (999, "other")],
)
def test_status_class(status: int, expected: str) -> None:
    assert labels.status_class(status) == expected


def test_methods_outside_the_standard_set_are_one_value() -> None:
    assert labels.method("POST") == "POST"
    assert labels.method("PROPFIND") == labels.method("X-SCAN") == "_OTHER"


def test_route_is_the_template_or_unmatched() -> None:
    class Route:
        path_format = "/v1/models/{model_id}"

    assert labels.route({"route": Route()}) == "/v1/models/{model_id}"
    assert labels.route({}) == labels.UNMATCHED
    assert labels.route({"route": object()}) == labels.UNMATCHED


def test_error_labels_come_from_the_openai_envelope() -> None:
    body = orjson.dumps(error_body("x", status=429, code="rate_limit_exceeded"))
    assert labels.error_labels(body) == ("rate_limit_error", "rate_limit_exceeded")
    body = orjson.dumps(error_body("x", status=500))
    assert labels.error_labels(body) == ("server_error", "none")


@pytest.mark.parametrize(
    "body",
    [
        b"",
        b"not json",
        b"[1, 2]",
        b'{"error": "flat"}',
        orjson.dumps({"error": {"type": "made_up_type", "code": "a_provider_code"}}),
        b'{"error": {"type": "server_error", "code": "x"}}' + b" " * labels.MAX_ERROR_BODY,
    ],
)
def test_unknown_or_unreadable_errors_are_other(body: bytes) -> None:
    kind, code = labels.error_labels(body)
    assert kind in labels.ERROR_TYPES | {labels.OTHER}
    assert code in labels.ERROR_CODES | {labels.OTHER, labels.NONE}
    assert labels.OTHER in (kind, code)
