"""``gateway dashboards``: regenerate the Grafana dashboards' JSON from their builders."""

from __future__ import annotations

import argparse
from pathlib import Path

from gateway_cli.dashboards import write

# The repository's dashboards/ folder (the workspace installs the cli from its sources).
DASHBOARDS = Path(__file__).resolve().parents[3] / "dashboards"


def add_parser(sub: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    command = sub.add_parser("dashboards", help="regenerate dashboards/*.json from the builders")
    command.add_argument("directory", nargs="?", type=Path, default=DASHBOARDS)


def run(args: argparse.Namespace) -> int:
    directory: Path = args.directory
    if not directory.is_dir():
        print(f"gateway dashboards: {directory} is not a directory")
        return 2
    for path in write(directory):
        print(path)
    return 0


def regenerate(argv: list[str]) -> int:
    parser = argparse.ArgumentParser(prog="python -m gateway_cli.dashboards")
    sub = parser.add_subparsers(dest="command", required=True)
    add_parser(sub)
    return run(parser.parse_args(["dashboards", *argv]))
