"""Fuzzing edge's public API with cases generated from OpenAI's own OpenAPI description.

Both valid (schema-conforming) and invalid bodies, with and without a real model alias:
no answer may be a 5xx, every error must be OpenAI's envelope, and every successful JSON
answer must conform to OpenAI's response schema. Bounded: a fixed number of examples per
operation, derandomized so a CI failure reproduces.
"""

from __future__ import annotations

from typing import Any

import httpx
import pytest
import schemathesis
import yaml
from hypothesis import HealthCheck, Phase, given, settings
from hypothesis import strategies as st
from schemathesis import GenerationMode

from gateway_cli.stack import Stack
from tests.deploy.tools import SCHEMAS

SPEC = SCHEMAS / "openai" / "openapi.yaml"
OPERATIONS = {
    "/chat/completions": "post",
    "/completions": "post",
    "/embeddings": "post",
    "/models": "get",
    "/models/{model}": "get",
}
EXAMPLES = 25
MODELS = {"/chat/completions": "sim-chat", "/completions": "sim-chat", "/embeddings": "sim-embed"}


def _schema() -> Any:
    spec = yaml.load(SPEC.read_text(), Loader=yaml.CSafeLoader)
    spec["paths"] = {p: {OPERATIONS[p]: spec["paths"][p][OPERATIONS[p]]} for p in OPERATIONS}
    return schemathesis.openapi.from_dict(spec)


SCHEMA = _schema()
OPS = {op.ok().path: op.ok() for op in SCHEMA.get_all_operations()}


def _check(response: httpx.Response, case: Any) -> None:
    assert response.status_code < 500, (case.body, response.text)
    assert "Traceback" not in response.text
    content_type = response.headers.get("content-type", "")
    if response.status_code >= 400:
        error = response.json()["error"]
        assert set(error) == {"message", "type", "param", "code"}, response.text
        assert isinstance(error["message"], str)
        assert error["message"]
    elif content_type.startswith("application/json"):
        base64 = isinstance(case.body, dict) and case.body.get("encoding_format") == "base64"
        # OpenAI's schema only describes float arrays, though its API (and vLLM) answer
        # base64 strings when asked for them.
        if not base64:
            case.operation.validate_response(response)
    else:
        assert content_type.startswith("text/event-stream")
        events = [line for line in response.text.splitlines() if line.startswith("data: ")]
        assert events
        assert events[-1] == "data: [DONE]" or '"error"' in events[-1]


@pytest.mark.parametrize("path", list(OPERATIONS))
@pytest.mark.parametrize("mode", [GenerationMode.POSITIVE, GenerationMode.NEGATIVE])
def test_edge_survives_generated_requests(
    stack: Stack, api_key: str, path: str, mode: GenerationMode
) -> None:
    operation = OPS[path]
    client = httpx.Client(
        base_url=stack.base_url, headers={"authorization": f"Bearer {api_key}"}, timeout=15
    )

    @settings(
        max_examples=EXAMPLES,
        deadline=None,
        derandomize=True,
        database=None,
        phases=[Phase.generate],
        suppress_health_check=list(HealthCheck),
    )
    @given(case=operation.as_strategy(generation_mode=mode), real_model=st.booleans())
    def run(case: Any, real_model: bool) -> None:
        if real_model and isinstance(case.body, dict) and path in MODELS:
            case.body["model"] = MODELS[path]
        if real_model and path == "/models/{model}":
            case.path_parameters = {"model": "sim-chat"}
        kwargs = case.as_transport_kwargs(base_url=stack.base_url)
        kwargs.pop("url")
        request = client.build_request(
            kwargs.pop("method"),
            case.formatted_path,
            headers={
                k: v
                for k, v in (kwargs.get("headers") or {}).items()
                if k.lower() != "authorization"
            },
            params=kwargs.get("params"),
            json=kwargs.get("json"),
            content=kwargs.get("data") if kwargs.get("json") is None else None,
        )
        response = client.send(request)
        _check(response, case)

    try:
        run()
    finally:
        client.close()
