"""Prices and costs: each token type at its rate, exact in nano-USD, unknown never $0."""

from __future__ import annotations

import pytest

from gateway_shared.prices import Prices, format_usd
from gateway_shared.wire.report import Report, Usage

FULL = Prices(input=2.5, cached_input=1.25, output=10.0, reasoning=20.0)


@pytest.mark.parametrize(
    ("prices", "usage", "nusd"),
    [
        # 1000 in at $2.5/M, 100 out at $10/M.
        (FULL, Usage(1000, 100), 2_500_000 + 1_000_000),
        # Of the 1000 in, 400 cached at half the rate.
        (FULL, Usage(1000, 100, cached_tokens=400), 1_500_000 + 500_000 + 1_000_000),
        # Of the 100 out, 60 reasoning at their own rate.
        (FULL, Usage(1000, 100, reasoning_tokens=60), 2_500_000 + 400_000 + 1_200_000),
        # No cached or reasoning rate: the input and output rates.
        (Prices(input=2.5, output=10.0), Usage(1000, 100, 400, 60), 2_500_000 + 1_000_000),
        # Rounded up to the nano-USD: 1 token at $0.0001/M is 0.1 nano-USD.
        (Prices(input=0.0001, output=0.0), Usage(1, 0), 1),
        (Prices(input=0.0), Usage(7, 0), 0),  # a free model is $0, and known
        (Prices(input=1.0), Usage(7, 0), 7000),  # embeddings: no output rate needed
    ],
)
def test_cost_of_usage(prices: Prices, usage: Usage, nusd: int) -> None:
    assert prices.cost_nusd(usage) == nusd


def test_a_missing_rate_makes_the_cost_unknown_not_zero() -> None:
    assert Prices(input=1.0).cost_nusd(Usage(10, 1)) is None
    assert Prices().cost_nusd(Usage(10, 0)) is None
    assert Prices(output=1.0).worst_case_nusd(10, 10) is None


def test_worst_case_prices_every_token_at_the_highest_rate_of_its_side() -> None:
    cheap_cache = Prices(input=2.0, cached_input=1.0, output=10.0, reasoning=30.0)
    assert cheap_cache.worst_case_nusd(1000, 100) == 2_000_000 + 3_000_000


def test_an_alias_is_priced_at_its_dearest_deployment_and_unknown_if_one_is_unpriced() -> None:
    a = Prices(input=1.0, output=4.0)  # reasoning at 4.0
    b = Prices(input=3.0, output=2.0, reasoning=5.0)
    assert Prices.highest([a, b]) == Prices(input=3.0, cached_input=3.0, output=4.0, reasoning=5.0)
    assert Prices.highest([a, None]) == Prices()
    assert Prices.highest([Prices(input=1.0), a]).output is None


def test_the_lower_rate_applies_and_an_unknown_one_gives_way() -> None:
    deployment = Prices(input=3.0, output=1.0)
    quote = Prices(input=2.0, output=4.0)
    assert deployment.lower(quote).cost_nusd(Usage(10**6, 10**6)) == 3 * 10**9
    assert deployment.lower(Prices()) == deployment.effective()


def test_prices_travel_in_the_report_and_usd_is_printed_exactly() -> None:
    report = Report.from_headers(Report(model="m", prices=FULL).headers())
    assert report.prices == FULL
    assert Report.from_headers({"x-gateway-prices": "not json"}).prices is None
    assert format_usd(12_345) == "0.000012345"
    assert format_usd(3 * 10**9 + 7) == "3.000000007"
