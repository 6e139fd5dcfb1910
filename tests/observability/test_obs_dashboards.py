"""The Grafana dashboards and their provisioning, checked offline: structure, the
datasource variable, and metric names that the tiers (or the recording rules) define."""

from __future__ import annotations

import re
from pathlib import Path

import yaml

from tests.observability.exprs import DASHBOARDS, dashboards, panel_exprs, panels, rule_exprs

PROVISIONING = DASHBOARDS / "provisioning"
SOURCES = [
    *Path(__file__).resolve().parents[2].glob("shared/src/gateway_shared/observability/*.py"),
    *Path(__file__).resolve().parents[2].glob("*/src/*/metrics.py"),
    *Path(__file__).resolve().parents[2].glob("*/src/*/*/metrics.py"),
    *Path(__file__).resolve().parents[2].glob("router/src/router/observability/*.py"),
]
NAME = re.compile(r"\b((?:gateway|gen_ai|process|python)_[a-z0-9_]+|gateway:[a-z0-9_:]+)\b")
SUFFIXES = ("_bucket", "_count", "_sum", "_total", "_info")


def _defined() -> set[str]:
    """Metric names the code defines (as registered, before suffixes) and rule records."""
    names = {"process_cpu_seconds", "process_resident_memory_bytes", "process_open_fds"}
    names |= {"python_gc_collections", "python_gc_objects_collected"}
    for source in SOURCES:
        names |= set(re.findall(r'"((?:gateway|gen_ai)_[a-z0-9_]+)"', source.read_text()))
    names |= {e.where.rsplit("/", 1)[1] for e in rule_exprs() if ":" in e.where.rsplit("/", 1)[1]}
    # The router's routing counters are named from a table: gateway_router_<counter>.
    router_metrics = (
        Path(__file__).resolve().parents[2] / "router/src/router/observability/collector.py"
    )
    for counter in re.findall(r'^    "([a-z_]+)": "', router_metrics.read_text(), re.MULTILINE):
        names.add(f"gateway_router_{counter}")
    return names


def _base(name: str) -> str:
    for suffix in SUFFIXES:
        if name.endswith(suffix):
            return name.removesuffix(suffix)
    return name


def test_dashboards_are_grafana_dashboards() -> None:
    found = dashboards()
    assert {p.stem for p, _ in found} >= {
        "gateway-overview",
        "gateway-edge",
        "gateway-policy",
        "gateway-router",
        "gateway-providers",
        "gateway-quotas",
    }
    uids = [d["uid"] for _, d in found]
    assert len(uids) == len(set(uids))
    for path, dashboard in found:
        assert dashboard["schemaVersion"] >= 36, path  # what grafana-foundation-sdk writes
        variables = {v["name"]: v for v in dashboard["templating"]["list"]}
        assert variables["datasource"]["type"] == "datasource"
        assert variables["datasource"]["query"] == "prometheus"
        ids = [p["id"] for p in dashboard["panels"]]
        assert len(ids) == len(set(ids)), path
        for panel in panels(dashboard):
            assert panel["datasource"] == {"type": "prometheus", "uid": "${datasource}"}, panel
            assert panel["targets"]
            assert all(t["expr"].strip() for t in panel["targets"])
            grid = panel["gridPos"]
            assert grid["x"] + grid["w"] <= 24, (path, panel["title"])
            assert panel.get("description"), (path, panel["title"])


def test_every_metric_a_panel_or_rule_names_is_defined() -> None:
    defined = _defined()
    exprs = [e for e, _ in panel_exprs()] + rule_exprs()
    unknown = set()
    for expr in exprs:
        for name in NAME.findall(expr.expr):
            if name not in defined and _base(name) not in defined:
                unknown.add((expr.where, name))
    assert not unknown, sorted(unknown)


def test_provisioning_loads_the_dashboards_with_a_prometheus_datasource() -> None:
    sources = yaml.safe_load((PROVISIONING / "datasources" / "gateway.yml").read_text())
    prometheus = [s for s in sources["datasources"] if s["type"] == "prometheus"]
    assert len(prometheus) == 1
    assert prometheus[0]["isDefault"]
    traces = prometheus[0]["jsonData"]["exemplarTraceIdDestinations"][0]
    assert traces["name"] == "trace_id"
    assert traces["datasourceUid"] in {s["uid"] for s in sources["datasources"]}
    providers = yaml.safe_load((PROVISIONING / "dashboards" / "gateway.yml").read_text())
    (provider,) = providers["providers"]
    assert provider["type"] == "file"
    assert provider["options"]["path"] == "/var/lib/grafana/dashboards"
