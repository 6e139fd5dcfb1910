"""Router unit-test fixtures. The helpers live in ``routerkit`` (importable by tests)."""

from __future__ import annotations

import sys
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).parent))

from routerkit import (
    API_KEY,
    KEY_ENV,
    UPSTREAMS,
    AnthropicUpstream,
    FakeClock,
    Upstream,
)


@pytest.fixture
def clock() -> FakeClock:
    return FakeClock()


@pytest.fixture(params=sorted(UPSTREAMS))
def upstream(request: pytest.FixtureRequest, monkeypatch: pytest.MonkeyPatch) -> Upstream:
    """One simulated upstream per adapter: the contract suite runs against each."""
    monkeypatch.setenv(KEY_ENV, API_KEY)
    return UPSTREAMS[request.param]()


@pytest.fixture
def anthropic_upstream(monkeypatch: pytest.MonkeyPatch) -> AnthropicUpstream:
    monkeypatch.setenv(KEY_ENV, API_KEY)
    return AnthropicUpstream()
