"""Every PromQL expression the repository ships: dashboard panels and rules."""

from __future__ import annotations

import json
import re
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import yaml

REPO = Path(__file__).resolve().parents[2]
DASHBOARDS = REPO / "dashboards"
RULES = REPO / "compose" / "prometheus" / "rules"

# Grafana's built-in variables, as a test Prometheus (1 s scrapes) can evaluate them.
BUILTINS = {"$__rate_interval": "1m", "$__interval": "15s", "$__range": "5m"}


@dataclass(frozen=True)
class Expr:
    where: str
    expr: str


def dashboards() -> list[tuple[Path, dict[str, Any]]]:
    return [(path, json.loads(path.read_text())) for path in sorted(DASHBOARDS.glob("*.json"))]


def panels(dashboard: dict[str, Any]) -> list[dict[str, Any]]:
    found = []
    for panel in dashboard["panels"]:
        if panel["type"] == "row":
            found.extend(panel.get("panels", []))
        else:
            found.append(panel)
    return found


def substitute(expr: str, dashboard: dict[str, Any]) -> str:
    for name, value in BUILTINS.items():
        expr = expr.replace(name, value)
    for variable in dashboard["templating"]["list"]:
        if variable["type"] == "query":
            # "All": the variable's allValue, a regex matching every value.
            expr = re.sub(rf"\$\{{?{variable['name']}\}}?\b", variable["allValue"], expr)
    assert "$" not in expr, f"unresolved variable in {expr}"
    return expr


def panel_exprs() -> list[tuple[Expr, dict[str, Any]]]:
    out = []
    for path, dashboard in dashboards():
        for panel in panels(dashboard):
            for target in panel["targets"]:
                where = f"{path.name}: {panel['title']} [{target['refId']}]"
                out.append((Expr(where, substitute(target["expr"], dashboard)), panel))
    return out


def rule_exprs() -> list[Expr]:
    out = []
    for path in sorted(RULES.glob("*.yml")):
        for group in yaml.safe_load(path.read_text())["groups"]:
            for rule in group["rules"]:
                name = rule.get("alert") or rule.get("record")
                out.append(Expr(f"{path.name}: {group['name']}/{name}", rule["expr"]))
    return out
