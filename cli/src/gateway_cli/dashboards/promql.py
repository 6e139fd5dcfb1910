"""PromQL, written once: selectors, rates, sums and quantiles as the dashboards use them.

Grafana's ``$__rate_interval`` is the window of every per-second rate: it follows the
scrape interval, so a rate means the same at any zoom.
"""

from __future__ import annotations

RATE_WINDOW = "$__rate_interval"


def series(metric: str, *matchers: str) -> str:
    """``metric{matcher,...}``; matchers are written as PromQL has them (``job="x"``)."""
    return f"{metric}{{{','.join(matchers)}}}" if matchers else metric


def rate(selector: str, window: str = RATE_WINDOW) -> str:
    return f"rate({selector}[{window}])"


def increase(selector: str, window: str) -> str:
    return f"increase({selector}[{window}])"


def by(labels: str) -> str:
    return f" by ({labels})" if labels else ""


def sum_(expr: str, labels: str = "") -> str:
    return f"sum{by(labels)} ({expr})" if labels else f"sum({expr})"


def max_(expr: str, labels: str) -> str:
    return f"max{by(labels)} ({expr})"


def quantile(q: float, histogram: str, matchers: tuple[str, ...], labels: str = "") -> str:
    """The q-quantile of a histogram's ``_bucket`` series, summed by ``le`` (and labels)."""
    le = f"le, {labels}" if labels else "le"
    buckets = rate(series(f"{histogram}_bucket", *matchers))
    return f"histogram_quantile({q}, sum by ({le}) ({buckets}))"


def ratio(part: str, whole: str) -> str:
    """A share that is 0, not empty, while the part has no series yet."""
    return f"({part} or vector(0)) / {whole}"


def ratio_by(part: str, whole: str) -> str:
    """A share per label set (both sums by the same labels): 0, not missing, where the
    part has no series."""
    return f"({part} or 0 * {whole}) / {whole}"


def count_(expr: str) -> str:
    return f"count({expr})"
