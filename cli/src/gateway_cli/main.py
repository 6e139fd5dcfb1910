"""The ``gateway`` command."""

from __future__ import annotations

import argparse

from gateway_cli import dashboards_cmd, dev_cmd, keys_cmd
from gateway_cli.bench import command as bench_cmd


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="gateway", description="The gateway command: the local stack, keys, benchmarks."
    )
    sub = parser.add_subparsers(dest="command", required=True)
    keys_cmd.add_parser(sub)
    dev_cmd.add_parser(sub)
    bench_cmd.add_parser(sub)
    dashboards_cmd.add_parser(sub)
    args = parser.parse_args(argv)
    if args.command == "keys":
        return keys_cmd.run(args)
    if args.command == "bench":
        return bench_cmd.run(args)
    if args.command == "dashboards":
        return dashboards_cmd.run(args)
    return dev_cmd.run(args)


if __name__ == "__main__":
    raise SystemExit(main())
