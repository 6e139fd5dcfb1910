"""The dashboards' panel kinds, each built one way: stats, time series and state tables.

A panel is given its title, a description (every panel says what it shows), its queries
as ``(expr, legend)`` pairs and its unit. Ids, query refIds and the grid are the board's
(:mod:`gateway_cli.dashboards.board`).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from grafana_foundation_sdk.builders import common as common_builders
from grafana_foundation_sdk.builders import dashboard as dashboard_builders
from grafana_foundation_sdk.builders import prometheus, stat, table, timeseries
from grafana_foundation_sdk.models import common, dashboard
from grafana_foundation_sdk.models.prometheus import PromQueryFormat

DATASOURCE = dashboard.DataSourceRef(type_val="prometheus", uid="${datasource}")

type Panel = stat.Panel | timeseries.Panel | table.Panel
type Steps = Sequence[tuple[float | None, str]]

GREEN: Steps = ((None, "green"),)
# A share of things that should all be up: green only when all are.
ALL_UP: Steps = ((None, "red"), (0.5, "orange"), (1, "green"))


@dataclass(frozen=True)
class Query:
    expr: str
    legend: str = "__auto"
    exemplar: bool = False


def _query(query: Query, ref_id: str, *, instant: bool = False) -> prometheus.Dataquery:
    built = (
        prometheus.Dataquery()
        .ref_id(ref_id)
        .datasource(DATASOURCE)
        .expr(query.expr)
        .legend_format(query.legend)
    )
    if instant:
        return built.instant().format(PromQueryFormat.TABLE)
    built = built.range()
    return built.exemplar(True) if query.exemplar else built


def _thresholds(steps: Steps) -> dashboard_builders.ThresholdsConfig:
    return (
        dashboard_builders.ThresholdsConfig()
        .mode(dashboard.ThresholdsMode.ABSOLUTE)
        .steps([dashboard.Threshold(value, color) for value, color in steps])
    )


def _ref(index: int) -> str:
    return chr(ord("A") + index)


def value_mappings(texts: dict[int, tuple[str, str]]) -> list[dashboard.ValueMapping]:
    """Numbers shown as words: ``{value: (text, color)}``."""
    options = {
        str(value): dashboard.ValueMappingResult(text=text, color=color, index=index)
        for index, (value, (text, color)) in enumerate(texts.items())
    }
    return [dashboard.ValueMap(options=options)]


def stat_panel(
    title: str,
    description: str,
    expr: str,
    unit: str,
    steps: Steps = GREEN,
    *,
    mappings: Sequence[dashboard.ValueMapping] = (),
) -> stat.Panel:
    return (
        stat.Panel()
        .title(title)
        .description(description)
        .datasource(DATASOURCE)
        .with_target(_query(Query(expr), "A"))
        .unit(unit)
        .thresholds(_thresholds(steps))
        .mappings(list(mappings))
        .color_mode(common.BigValueColorMode.BACKGROUND)
        .graph_mode(common.BigValueGraphMode.NONE)
        .reduce_options(
            common_builders.ReduceDataOptions().calcs(["lastNotNull"]).values(False).fields("")
        )
        .height(4)
        .span(6)
    )


def timeseries_panel(
    title: str,
    description: str,
    queries: Sequence[Query],
    unit: str,
    *,
    stacked: bool = False,
) -> timeseries.Panel:
    panel = (
        timeseries.Panel()
        .title(title)
        .description(description)
        .datasource(DATASOURCE)
        .unit(unit)
        .min(0)
        .draw_style(common.GraphDrawStyle.LINE)
        .line_width(1)
        .fill_opacity(10)
        .show_points(common.VisibilityMode.NEVER)
        .span_nulls(False)
        .stacking(
            common_builders.StackingConfig()
            .mode(common.StackingMode.NORMAL if stacked else common.StackingMode.NONE)
            .group("A")
        )
        .legend(
            common_builders.VizLegendOptions()
            .display_mode(common.LegendDisplayMode.LIST)
            .placement(common.LegendPlacement.BOTTOM)
            .show_legend(True)
        )
        .tooltip(
            common_builders.VizTooltipOptions()
            .mode(common.TooltipDisplayMode.MULTI)
            .sort(common.SortOrder.DESCENDING)
        )
        .height(8)
        .span(12)
    )
    for index, query in enumerate(queries):
        panel = panel.with_target(_query(query, _ref(index)))
    return panel


def table_panel(
    title: str,
    description: str,
    expr: str,
    unit: str,
    mappings: Sequence[dashboard.ValueMapping] = (),
) -> table.Panel:
    """An instant query's series as rows, one column per label and the value (in its
    mapping's color and words, if it has a mapping)."""
    panel = (
        table.Panel()
        .title(title)
        .description(description)
        .datasource(DATASOURCE)
        .with_target(_query(Query(expr), "A", instant=True))
        .unit(unit)
        .mappings(list(mappings))
        .show_header(True)
        .cell_height(common.TableCellHeight.SM)
        .with_transformation(
            dashboard.DataTransformerConfig(
                id_val="organize", options={"excludeByName": {"Time": True}}
            )
        )
        .height(8)
        .span(12)
    )
    if mappings:
        color_text = dashboard.DynamicConfigValue(
            id_val="custom.cellOptions", value={"type": "color-text"}
        )
        panel = panel.override_by_name("Value", [color_text])
    return panel
