"""The dashboards are code: the committed JSON is what the builders write, and every
panel of the hand-written dashboards (dashboards/inventory.yaml) survives, or the
inventory says why it changed or went; every new panel is listed there too."""

from __future__ import annotations

from typing import Any

import yaml

from gateway_cli.dashboards import boards
from tests.observability.exprs import DASHBOARDS, panels

INVENTORY = DASHBOARDS / "inventory.yaml"

type Generated = dict[str, dict[str, list[str]]]  # dashboard -> title -> queries


def _generated() -> Generated:
    return {
        board.uid: {p["title"]: [t["expr"] for t in p["targets"]] for p in panels(board.as_dict())}
        for board in boards()
    }


def inventory_problems(inventory: dict[str, Any], generated: Generated) -> list[str]:
    problems = []
    for uid in sorted(set(inventory) | set(generated)):
        listed = inventory.get(uid, {})
        built = generated.get(uid, {})
        accounted = set()
        for panel in listed.get("panels") or []:
            title = panel["title"]
            where = f"{uid}: {title!r}"
            if "removed" in panel:
                if not panel["removed"]:
                    problems.append(f"{where}: removed without a reason")
                if title in built:
                    problems.append(f"{where}: listed as removed but still there")
                continue
            now = panel.get("now", title)
            if now not in built:
                problems.append(f"{where}: gone (no panel {now!r}); list it as removed or changed")
                continue
            accounted.add(now)
            same = now == title and built[now] == panel["queries"]
            if "changed" in panel:
                if not panel["changed"]:
                    problems.append(f"{where}: changed without a reason")
                if same:
                    problems.append(f"{where}: listed as changed but unchanged")
            elif not same:
                problems.append(f"{where}: queries differ from the inventory; say why (changed)")
        for added in listed.get("added") or []:
            if not added.get("reason"):
                problems.append(f"{uid}: {added['title']!r} added without a reason")
            if added["title"] not in built:
                problems.append(f"{uid}: {added['title']!r} listed as added but not there")
            accounted.add(added["title"])
        for title in sorted(set(built) - accounted):
            problems.append(f"{uid}: {title!r} is new; list it under added")
    return problems


def test_committed_dashboards_are_what_the_builders_write() -> None:
    written = {f"{board.uid}.json": board.render() for board in boards()}
    committed = {path.name: path.read_text() for path in DASHBOARDS.glob("*.json")}
    assert sorted(committed) == sorted(written), "regenerate with: uv run gateway dashboards"
    stale = [name for name, text in written.items() if committed[name] != text]
    assert not stale, f"{stale} differ from their builders; regenerate: uv run gateway dashboards"


def test_every_inventoried_panel_survives_or_says_why() -> None:
    inventory = yaml.safe_load(INVENTORY.read_text())
    problems = inventory_problems(inventory, _generated())
    assert not problems, "\n".join(problems)


def test_the_inventory_check_notices_a_change_a_removal_and_an_addition() -> None:
    inventory = {
        "d": {
            "panels": [
                {"title": "kept", "queries": ["up"]},
                {"title": "edited", "queries": ["a"]},
                {"title": "gone", "queries": ["b"]},
            ]
        }
    }
    generated = {"d": {"kept": ["up"], "edited": ["a2"], "new": ["c"]}}
    problems = inventory_problems(inventory, generated)
    assert problems == [
        "d: 'edited': queries differ from the inventory; say why (changed)",
        "d: 'gone': gone (no panel 'gone'); list it as removed or changed",
        "d: 'new' is new; list it under added",
    ]
    inventory["d"]["panels"][1]["changed"] = "a2 counts what a missed"
    inventory["d"]["panels"][2]["removed"] = "nobody reads b"
    inventory["d"]["added"] = [{"title": "new", "reason": "c was missing"}]
    assert inventory_problems(inventory, generated) == []
