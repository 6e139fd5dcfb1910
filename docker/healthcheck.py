"""Container health check: exit 0 when the tier answers ``GET /healthz`` with 200.

Usage: ``python healthcheck.py PORT_VARIABLE DEFAULT_PORT [PATH]``, for example
``python /app/healthcheck.py EDGE_PORT 8080``. The port is read from the same variable the
tier reads, so overriding it in the environment keeps the check pointed at the server.
Standard library only: the runtime image has no curl, and needs none.
"""

from __future__ import annotations

import os
import sys
import urllib.error
import urllib.request

USAGE = "usage: healthcheck.py PORT_VARIABLE DEFAULT_PORT [PATH]"


def main(argv: list[str]) -> int:
    if len(argv) not in (2, 3):
        print(USAGE, file=sys.stderr)
        return 2
    port = os.environ.get(argv[0]) or argv[1]
    path = argv[2] if len(argv) == 3 else "/healthz"
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
