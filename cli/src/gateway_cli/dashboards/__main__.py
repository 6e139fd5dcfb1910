"""``python -m gateway_cli.dashboards [DIRECTORY]``: regenerate the dashboards' JSON."""

from __future__ import annotations

import sys

from gateway_cli.dashboards_cmd import regenerate

if __name__ == "__main__":
    raise SystemExit(regenerate(sys.argv[1:]))
