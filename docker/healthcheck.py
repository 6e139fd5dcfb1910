"""Container health check: exit 0 when the tier answers ``GET /healthz`` with 200.

Usage: ``python healthcheck.py [PATH]``. The port is read from the variable that
``GATEWAY_PORT_VARIABLE`` names (the image sets it to its tier's own, e.g. ``EDGE_PORT``),
so overriding the tier's port in the environment keeps the check pointed at the server.
Docker substitutes no variable in an exec-form HEALTHCHECK, hence the indirection.
Standard library only: the runtime image has no curl, and needs none.
"""

from __future__ import annotations

import os
import sys
import urllib.error
import urllib.request

USAGE = "usage: healthcheck.py [PATH], with GATEWAY_PORT_VARIABLE naming the port's variable"


def main(argv: list[str]) -> int:
    variable = os.environ.get("GATEWAY_PORT_VARIABLE", "")
    port = os.environ.get(variable, "") if variable else ""
    if len(argv) > 1 or not port.isdigit():
        print(USAGE, file=sys.stderr)
        return 2
    path = argv[0] if argv else "/healthz"
    url = f"http://127.0.0.1:{port}{path}"
    try:
        with urllib.request.urlopen(url, timeout=2) as response:
            status: int = response.status
    except (urllib.error.URLError, OSError) as exc:
        print(f"unhealthy: {url}: {exc}", file=sys.stderr)
        return 1
    return 0 if status == 200 else 1


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
