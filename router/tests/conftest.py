"""Router unit-test fixtures. The helpers live in ``tests.support.routerkit``."""

from __future__ import annotations

import pytest

from tests.support.routerkit import (
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
