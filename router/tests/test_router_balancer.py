"""Balancing strategies within a priority group."""

from __future__ import annotations

import random
from collections import Counter

from hypothesis import given
from hypothesis import strategies as st

from router.catalog import BreakerPolicy, Strategy
from router.routing.balancer import Balancer
from router.routing.deployment import DeploymentState
from tests.support.routerkit import UNUSED_CLIENT, FakeClock, FakeProvider, fake_deployment


def states(*weights: float) -> list[DeploymentState]:
    out = []
    for i, weight in enumerate(weights):
        deployment = fake_deployment(f"d{i}", weight=weight)
        provider = FakeProvider(deployment, UNUSED_CLIENT)
        out.append(DeploymentState("chat", deployment, provider, BreakerPolicy(), FakeClock()))
    return out


def test_weighted_random_follows_weights_within_tolerance() -> None:
    group = states(3, 1)
    balancer = Balancer(Strategy.WEIGHTED, random.Random(1))
    picks = Counter(balancer.choose(group).name for _ in range(4000))
    # Expected 0.75; the tolerance is ~6 standard deviations at n=4000.
    assert abs(picks["d0"] / 4000 - 0.75) < 0.04


def test_round_robin_is_exact_and_interleaved() -> None:
    group = states(3, 1)
    balancer = Balancer(Strategy.ROUND_ROBIN, random.Random(1))
    sequence = [balancer.choose(group).name for _ in range(8)]
    assert Counter(sequence) == {"d0": 6, "d1": 2}
    # Smooth: d1 is not left for the end of each cycle of 4.
    assert sequence[:4].count("d1") == 1


@given(st.lists(st.integers(min_value=1, max_value=9), min_size=2, max_size=5))
def test_round_robin_gives_each_its_exact_share_per_cycle(weights: list[int]) -> None:
    group = states(*weights)
    balancer = Balancer(Strategy.ROUND_ROBIN, random.Random(0))
    picks = Counter(balancer.choose(group).name for _ in range(sum(weights)))
    assert picks == {f"d{i}": w for i, w in enumerate(weights)}


def test_least_in_flight_prefers_the_idle_deployment() -> None:
    busy, idle = states(1, 1)
    busy.in_flight = 3
    balancer = Balancer(Strategy.LEAST_IN_FLIGHT, random.Random(1))
    assert {balancer.choose([busy, idle]).name for _ in range(50)} == {"d1"}


def test_least_in_flight_is_relative_to_weight() -> None:
    big, small = states(4, 1)
    big.in_flight, small.in_flight = 3, 1  # 0.75 vs 1.0 per unit of weight
    balancer = Balancer(Strategy.LEAST_IN_FLIGHT, random.Random(1))
    assert balancer.choose([big, small]).name == "d0"


def test_least_in_flight_breaks_ties_at_random() -> None:
    group = states(1, 1)
    balancer = Balancer(Strategy.LEAST_IN_FLIGHT, random.Random(1))
    assert {balancer.choose(group).name for _ in range(50)} == {"d0", "d1"}


def test_latency_tries_unmeasured_first_then_prefers_fast() -> None:
    fast, slow = states(1, 1)
    balancer = Balancer(Strategy.LATENCY, random.Random(1))
    slow.observe_ttft(0.9)
    assert balancer.choose([fast, slow]).name == "d0"  # never measured
    fast.observe_ttft(0.1)
    picks = Counter(balancer.choose([fast, slow]).name for _ in range(1000))
    # Mostly the fast one; a few explore the slow one so its average can recover.
    assert picks["d0"] > 900
    assert picks["d1"] > 0


def test_latency_accounts_for_queueing() -> None:
    fast, slow = states(1, 1)
    fast.observe_ttft(0.1)
    slow.observe_ttft(0.3)
    fast.in_flight = 5  # 0.1 x 6 = 0.6 > 0.3 x 1
    balancer = Balancer(Strategy.LATENCY, random.Random(3))
    picks = Counter(balancer.choose([fast, slow]).name for _ in range(200))
    assert picks["d1"] > 150


def test_ewma_moves_towards_new_samples() -> None:
    (d,) = states(1)
    d.observe_ttft(1.0)
    for _ in range(20):
        d.observe_ttft(0.1)
    assert d.ttft_ewma is not None
    assert abs(d.ttft_ewma - 0.1) < 0.01


@given(
    st.sampled_from(list(Strategy)),
    st.lists(st.floats(min_value=0.1, max_value=10), min_size=1, max_size=6),
    st.integers(min_value=0, max_value=2**32),
)
def test_choice_is_always_a_candidate(strategy: Strategy, weights: list[float], seed: int) -> None:
    group = states(*weights)
    balancer = Balancer(strategy, random.Random(seed))
    for _ in range(5):
        assert balancer.choose(group) in group
