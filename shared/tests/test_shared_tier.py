"""What every tier's app does when it starts, before it reports ready."""

from __future__ import annotations

import subprocess
import sys

import pytest

from gateway_shared.tier.settings import MissingSettings, TierSettings, load
from simulator.settings import SimulatorSettings

# Run in a fresh interpreter: this test process may have loaded anyio's backend already.
_STARTS_A_TIER = """
import asyncio, gc, sys
from contextlib import asynccontextmanager
from gateway_shared.observability import Observability
from gateway_shared.tier.app import tier_app

BACKEND = "anyio._backends._asyncio"

@asynccontextmanager
async def lifespan(app):
    yield

async def main():
    app = tier_app("t", lifespan, Observability("edge"))
    assert BACKEND not in sys.modules, "imports alone load it: the check below means nothing"
    assert gc.get_freeze_count() == 0
    async with app.router.lifespan_context(app):
        print(BACKEND in sys.modules, gc.get_freeze_count() > 0)

asyncio.run(main())
"""


def _start_a_tier() -> list[str]:
    done = subprocess.run(
        [sys.executable, "-c", _STARTS_A_TIER],
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert done.returncode == 0, done.stderr
    return done.stdout.split()


def test_anyio_backend_is_loaded_at_start_not_on_the_first_stream() -> None:
    # Starlette streams inside an anyio task group; loading the backend then delayed the
    # first stream a new process served by ~70 ms per tier.
    assert _start_a_tier()[0] == "True"


def test_what_start_up_built_is_frozen_out_of_full_collections() -> None:
    assert _start_a_tier()[1] == "True"


def test_a_short_secret_is_named_with_its_rule_in_characters(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setenv("GATEWAY_INTERNAL_SECRET", "x")  # pragma: allowlist secret
    with pytest.raises(MissingSettings) as stopped:
        load(TierSettings)
    assert str(stopped.value) == (
        "TierSettings: GATEWAY_INTERNAL_SECRET must be at least 16 characters"
        " (secrets come from Doppler)"
    )


def test_a_short_list_is_not_said_in_characters(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("SIM_MODELS", "[]")
    with pytest.raises(MissingSettings) as stopped:
        load(SimulatorSettings)
    assert "SIM_MODELS is invalid: List should have at least 1 item" in str(stopped.value)
