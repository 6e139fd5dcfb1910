"""A dashboard: its variables and rows of panels, rendered to the JSON Grafana loads.

Every dashboard has a Prometheus ``datasource`` variable, links to the others (tag
``llm-gateway``), a shared crosshair and the same time range and refresh. Panel ids
follow the order of rows and panels, so the JSON changes only where a panel does.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from grafana_foundation_sdk.builders import dashboard as builders
from grafana_foundation_sdk.cog.encoder import JSONEncoder
from grafana_foundation_sdk.models import dashboard

from gateway_cli.dashboards.panels import DATASOURCE, Panel

TAG = "llm-gateway"
ALL = ".*"  # what a variable's "All" stands for in a regex matcher


@dataclass(frozen=True)
class Variable:
    """A multi-value query variable: ``label_values(query, name)``, "All" by default."""

    name: str
    label: str
    values_of: str  # the series whose label values are offered


@dataclass(frozen=True)
class Row:
    title: str
    panels: Sequence[Panel]


@dataclass(frozen=True)
class Board:
    uid: str
    title: str
    description: str
    variables: Sequence[Variable]
    rows: Sequence[Row]

    def build(self) -> dashboard.Dashboard:
        board = (
            builders.Dashboard(self.title)
            .uid(self.uid)
            .description(self.description)
            .tags([TAG])
            .readonly()
            .tooltip(dashboard.DashboardCursorSync.CROSSHAIR)
            .time("now-1h", "now")
            .refresh("30s")
            .link(
                builders.DashboardLink("Gateway dashboards")
                .type(dashboard.DashboardLinkType.DASHBOARDS)
                .tags([TAG])
                .as_dropdown(True)
                .keep_time(True)
            )
            .with_variable(
                builders.DatasourceVariable("datasource").label("Data source").type("prometheus")
            )
        )
        for variable in self.variables:
            query = f"label_values({variable.values_of}, {variable.name})"
            board = board.with_variable(
                builders.QueryVariable(variable.name)
                .label(variable.label)
                .datasource(DATASOURCE)
                .query(query)
                .refresh(dashboard.VariableRefresh.ON_TIME_RANGE_CHANGED)
                .sort(dashboard.VariableSort.ALPHABETICAL_ASC)
                .include_all(True)
                .all_value(ALL)
                .multi(True)
            )
        next_id = 1
        for row in self.rows:
            board = board.with_row(builders.Row(row.title).id(next_id))
            next_id += 1
            for panel in row.panels:
                board = board.with_panel(panel.id(next_id))
                next_id += 1
        return board.build()

    def render(self) -> str:
        """The dashboard's JSON file, as committed in ``dashboards/``."""
        return json.dumps(self.build(), cls=JSONEncoder, indent=2, sort_keys=True) + "\n"

    def as_dict(self) -> dict[str, Any]:
        document: dict[str, Any] = json.loads(self.render())
        return document
