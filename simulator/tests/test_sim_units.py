"""Pure pieces: settings parsing, fault-config merging, deterministic generation."""

from __future__ import annotations

import math

import pytest
from pydantic import ValidationError

from gateway_shared.errors import GatewayError
from simulator import generation
from simulator.app import create_app
from simulator.faults import FaultConfig
from simulator.settings import SimulatorSettings


def test_settings_defaults(monkeypatch: pytest.MonkeyPatch) -> None:
    for name in ("SIM_MODELS", "SIM_PORT", "SIM_API_KEY", "SIM_TTFT_MS"):
        monkeypatch.delenv(name, raising=False)
    settings = SimulatorSettings()
    assert (settings.host, settings.port) == ("127.0.0.1", 8090)
    assert settings.models == ["sim-model", "sim-embed"]
    assert settings.api_key is None
    assert settings.faults() == FaultConfig()


@pytest.mark.parametrize(
    ("raw", "expected"),
    [("a,b", ["a", "b"]), (" a , org/b ", ["a", "org/b"]), ('["x", "y,z"]', ["x", "y,z"])],
)
def test_models_from_env(monkeypatch: pytest.MonkeyPatch, raw: str, expected: list[str]) -> None:
    monkeypatch.setenv("SIM_MODELS", raw)
    assert SimulatorSettings().models == expected


def test_fault_settings_from_env(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("SIM_ERROR_RATE", "0.25")
    monkeypatch.setenv("SIM_DISCONNECT_AFTER_TOKENS", "5")
    monkeypatch.setenv("SIM_HANG", "true")
    faults = SimulatorSettings().faults()
    assert (faults.error_rate, faults.disconnect_after_tokens, faults.hang) == (0.25, 5, True)
    monkeypatch.setenv("SIM_ERROR_RATE", "2")
    with pytest.raises(ValidationError):
        SimulatorSettings()


def test_api_key_is_secret(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("SIM_API_KEY", "s3cret")
    settings = SimulatorSettings()
    assert "s3cret" not in repr(settings)
    assert settings.api_key is not None
    assert settings.api_key.get_secret_value() == "s3cret"


def test_fault_config_merge() -> None:
    base = FaultConfig()
    merged = base.merged({"itl_ms": 3, "error_retry_after": 1.5})
    assert (merged.itl_ms, merged.error_retry_after) == (3.0, 1.5)
    assert base.itl_ms == 0.0  # immutable: a merge makes a new object
    assert merged.retry_after_header() == {"retry-after": "1.5"}
    assert merged.merged({"error_retry_after": 2}).retry_after_header() == {"retry-after": "2"}
    for bad in ({"error_status": 200}, {"output_tokens": 0}, {"hang": 1}, {"x": 1}, "str"):
        with pytest.raises(GatewayError) as err:
            base.merged(bad)
        assert err.value.status == 400


def test_generation_is_deterministic() -> None:
    assert generation.completion_text(3) == " lorem ipsum dolor"
    assert generation.completion_text(40).count(" ") == 40
    assert generation.token(len(generation.WORDS)) == generation.token(0)


def test_prompt_token_estimate() -> None:
    messages = [
        {"role": "system", "content": "abcd"},
        {"role": "user", "content": [{"type": "text", "text": "abcde"}, {"type": "image_url"}]},
        {"role": "assistant", "content": None},
    ]
    assert generation.chat_prompt_tokens(messages) == math.ceil(9 / 4)
    assert generation.prompt_tokens("") == 0
    assert generation.prompt_tokens([5, 6, 7]) == 3


def test_embeddings_are_unit_vectors_keyed_by_input() -> None:
    a = generation.embedding("hello", 32)
    assert len(a) == 32
    assert math.isclose(math.fsum(v * v for v in a), 1.0)
    assert generation.embedding("hello", 32) == a
    assert generation.embedding("hello!", 32) != a
    assert generation.embedding([1, 2], 4) != generation.embedding("[1,2]x", 4)


def test_create_app_reads_settings_when_called(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("SIM_MODELS", "from-env")
    assert create_app().state.sim.settings.models == ["from-env"]
    explicit = create_app(SimulatorSettings(models=["explicit"]))
    assert list(explicit.state.sim.models) == ["explicit"]
    # Each app has its own state.
    assert create_app().state.sim is not create_app().state.sim
