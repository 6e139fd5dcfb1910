"""The Grafana dashboards as code (grafana-foundation-sdk): one module per dashboard.

``gateway dashboards`` (or ``python -m gateway_cli.dashboards``) writes them to the
repository's ``dashboards/`` folder, which Grafana provisions from; a test fails when the
committed JSON differs from what these builders produce. Metric names come from the
modules that define the metrics; PromQL is written once in :mod:`.promql`, each kind of
panel once in :mod:`.panels`.
"""

from __future__ import annotations

from pathlib import Path

from gateway_cli.dashboards import edge, engines, overview, policy, providers, quotas, router
from gateway_cli.dashboards.board import Board

MODULES = (overview, edge, policy, router, providers, quotas, engines)


def boards() -> list[Board]:
    return [module.board() for module in MODULES]


def write(directory: Path) -> list[Path]:
    """Write every dashboard's JSON into ``directory``; returns the files written."""
    written = []
    for board in boards():
        path = directory / f"{board.uid}.json"
        path.write_text(board.render())
        written.append(path)
    return written
