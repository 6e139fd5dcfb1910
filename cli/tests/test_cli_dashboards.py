"""``gateway dashboards``: the builders' JSON written where it is asked to be."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from gateway_cli.dashboards import boards
from gateway_cli.main import main


def test_writes_every_dashboard_as_grafana_json(tmp_path: Path) -> None:
    assert main(["dashboards", str(tmp_path)]) == 0
    written = {path.name: json.loads(path.read_text()) for path in tmp_path.glob("*.json")}
    assert set(written) == {f"{board.uid}.json" for board in boards()}
    for name, dashboard in written.items():
        assert f"{dashboard['uid']}.json" == name
        assert dashboard["panels"]


def test_a_directory_that_does_not_exist_is_refused(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    assert main(["dashboards", str(tmp_path / "nowhere")]) == 2
    assert "is not a directory" in capsys.readouterr().out
