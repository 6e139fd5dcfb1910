"""``gateway bench``'s pure parts: cores, k6 summaries, the targets and the report."""

from __future__ import annotations

import pytest

from gateway_cli.bench import pinning
from gateway_cli.bench.command import median_run
from gateway_cli.bench.k6run import K6Result, parse_summary
from gateway_cli.bench.report import render
from gateway_cli.bench.results import Measurement, Results, Soak
from gateway_cli.bench.sampling import RssSample, Window
from gateway_cli.bench.targets import judge, soak_growth


def test_parse_cores() -> None:
    assert pinning.parse_cores("0") == {0}
    assert pinning.parse_cores("0,2-4") == {0, 2, 3, 4}


def test_one_core_is_not_pinned(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(pinning.os, "sched_getaffinity", lambda _pid: {0})
    assert not pinning.choose_layout().pinned


def test_two_cores_split_tiers_from_load(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(pinning.os, "sched_getaffinity", lambda _pid: {0, 1})
    layout = pinning.choose_layout()
    assert (layout.sut, layout.load) == ({0}, {1})
    with pytest.raises(ValueError, match="proper subset"):
        pinning.choose_layout("0-1")


def test_parse_summary_reads_k6_metrics() -> None:
    summary = {
        "state": {"testRunDurationMs": 10_000},
        "metrics": {
            "http_reqs": {"values": {"count": 3000, "rate": 300.0}},
            "http_req_duration": {"values": {"med": 2.5, "p(95)": 4.0, "p(99)": 6.0}},
            "ttfb": {"values": {"med": 1.5, "p(99)": 3.0}},
            "gateway_errors": {"values": {"passes": 2, "fails": 2998}},
        },
        "gateway": {"failed_thresholds": []},
    }
    result = parse_summary("x", summary, 0, 1.5)
    assert (result.requests, result.rps, result.p50, result.p99) == (3000, 300.0, 2.5, 6.0)
    assert (result.ttfb_p50, result.errors, result.seconds) == (1.5, 2, 10.0)


def _k6(rps: float, p50: float, p99: float, ttfb: float | None = None) -> K6Result:
    return K6Result("x", 0, 10.0, int(rps * 10), rps, p50, p50, p99, ttfb, ttfb, 0, [], 1.0)


def _run(target: str, mode: str, clients: int, k6: K6Result) -> Measurement:
    sut = ("edge", "policy", "router", "redis") if target == "gateway" else ()
    cpu = dict.fromkeys(sut, 2.0) | {"simulator": 1.0}
    window = Window(10.0, cpu, dict.fromkeys(cpu, 50.0), {0: 90.0, 1: 40.0}, {"k6": 2.0})
    return Measurement(target, target, mode, clients, k6, window, sut)


def _results(gateway_rps: float) -> Results:
    results = Results(
        "uv run gateway bench",
        "now",
        {"cpu": "test"},
        "pinned",
        {"sut": [0], "load": [1]},
        {"duration": 10, "warmup": 2},
    )
    results.runs = [
        _run("simulator", "chat", 1, _k6(2000, 0.5, 1.0)),
        _run("gateway", "chat", 1, _k6(200, 3.0, 9.0)),
        _run("simulator", "chat", 50, _k6(4000, 10.0, 30.0)),
        _run("floor", "chat", 50, _k6(400, 100.0, 200.0)),
        _run("gateway", "chat", 50, _k6(gateway_rps, 150.0, 300.0)),
        _run("simulator", "stream", 10, _k6(3000, 3.0, 9.0, ttfb=2.0)),
        _run("gateway", "stream", 10, _k6(160, 60.0, 90.0, ttfb=7.0)),
    ]
    return results


def test_targets_judged_from_the_runs() -> None:
    verdicts = {v.name: v.met for v in judge(_results(300))}
    assert verdicts["non-streaming, 1 client: added latency"] is True
    assert verdicts["non-streaming, 50 clients: throughput"] is True
    assert verdicts["streaming, 10 clients"] is True
    assert verdicts["full path vs three-bare-hops floor"] is True
    assert verdicts["memory after a 5-minute soak"] is None  # not soaked

    verdicts = {v.name: v.met for v in judge(_results(200))}
    assert verdicts["non-streaming, 50 clients: throughput"] is False
    assert verdicts["full path vs three-bare-hops floor"] is False  # 400/200 = 2x


def test_the_cache_hit_is_judged_against_the_uncached_gateway() -> None:
    name = "response cache hit (non-streaming)"
    results = _results(300)
    assert {v.name: v.met for v in judge(results)}[name] is None  # no cached runs
    results.runs += [
        _run("cached", "chat", 1, _k6(400, 1.5, 4.0)),
        _run("cached", "chat", 50, _k6(700, 60.0, 120.0)),
    ]
    assert {v.name: v.met for v in judge(results)}[name] is True
    results.runs[-1] = _run("cached", "chat", 50, _k6(250, 60.0, 120.0))
    assert {v.name: v.met for v in judge(results)}[name] is False  # fewer req/s than 300


def _soak(growth_per_sample: float) -> Soak:
    samples = [
        RssSample(t, {"edge": 80 + growth_per_sample * t, "policy": 80.0, "router": 70.0})
        for t in range(0, 301, 5)
    ]
    return Soak(300, 100, 0.2, _k6(100, 3, 9), samples, ("edge", "policy", "router"))


def test_soak_growth_flat_and_growing() -> None:
    assert abs(soak_growth(_soak(0.0))["total"]) < 0.01
    assert soak_growth(_soak(0.1))["total"] == pytest.approx(0.1 * 180, rel=0.05)


def test_report_has_every_section() -> None:
    results = _results(300)
    results.soak = _soak(0.0)
    results.rss_after = {"edge": 80.0, "policy": 80.0, "router": 70.0}
    text = render(results)
    for heading in (
        "## Targets",
        "## Non-streaming",
        "## Streaming",
        "## Full path vs floor",
        "## CPU",
        "## Memory",
        "## Soak",
    ):
        assert heading in text
    assert "| memory after a 5-minute soak |" in text
    assert "yes" in text


def test_rounds_keep_the_median_throughput() -> None:
    runs = [_run("gateway", "chat", 50, _k6(rps, 100.0, 200.0)) for rps in (250.0, 180.0, 220.0)]
    assert median_run(runs).k6.rps == 220.0
    assert median_run(runs[:2]).k6.rps == 180.0  # even count: the lower middle
    assert median_run(runs[:1]).k6.rps == 250.0


def test_a_bridge_costs_its_per_round_difference_from_chat() -> None:
    results = _results(300)
    for round_, (chat, bridged) in enumerate([(3.0, 3.4), (5.0, 5.2), (3.1, 4.9)], start=1):
        for mode, p50 in (("chat", chat), ("responses", bridged)):
            run = _run("gateway", mode, 1, _k6(200, p50, 9.0))
            run.round = round_
            results.rounds.append(run)
    results.runs.append(results.rounds[1])  # responses' reported round
    # Per round +0.4, +0.2, +1.8: the median is +0.4 although the medians' difference is not.
    assert sorted(results.bridge_costs("gateway", "responses", 1)) == pytest.approx([0.2, 0.4, 1.8])
    verdict = next(v for v in judge(results) if v.name.startswith("Responses API"))
    assert (verdict.met, verdict.measured) == (True, "+0.40 ms over 3 rounds")
    assert "bridge cost p50 ms" in render(results)
