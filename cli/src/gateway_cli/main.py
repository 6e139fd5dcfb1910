"""The ``gateway`` command."""

from __future__ import annotations

import argparse
import importlib
import sys

# Each command's module: its parser (``add_parser``) and its ``run``. Only the command
# being run is imported: the others bring in what it never uses (the stack, the
# benchmark tooling), which would double the start-up of every ``gateway keys``.
COMMANDS = {
    "keys": "gateway_cli.keys_cmd",
    "dev": "gateway_cli.dev_cmd",
    "bench": "gateway_cli.bench.command",
    "dashboards": "gateway_cli.dashboards_cmd",
}


def main(argv: list[str] | None = None) -> int:
    argv = sys.argv[1:] if argv is None else argv
    parser = argparse.ArgumentParser(
        prog="gateway",
        description="The gateway command: the local stack, keys, benchmarks, dashboards.",
    )
    sub = parser.add_subparsers(dest="command", required=True)
    chosen = [argv[0]] if argv and argv[0] in COMMANDS else list(COMMANDS)
    modules = {name: importlib.import_module(COMMANDS[name]) for name in chosen}
    for module in modules.values():
        module.add_parser(sub)
    args = parser.parse_args(argv)
    code: int = modules[args.command].run(args)
    return code


if __name__ == "__main__":
    raise SystemExit(main())
