"""Container command: become ``python -m $GATEWAY_SERVICE``.

One Dockerfile builds every service (``docker/Dockerfile``, build argument ``SERVICE``) and
records which one in ``GATEWAY_SERVICE``. Docker substitutes no variable in an exec-form
CMD, so the CMD runs this script, which replaces itself with the service's own
``python -m <service>``: ``os.execv`` keeps the process, so the service is still PID 1 and
receives SIGTERM itself. Standard library only.
"""

from __future__ import annotations

import os
import sys

USAGE = "serve.py: GATEWAY_SERVICE must name the service's module, for example edge"


def main(argv: list[str]) -> int:
    service = os.environ.get("GATEWAY_SERVICE", "")
    if not service.isidentifier():
        print(USAGE, file=sys.stderr)
        return 2
    # Our interpreter and a module name, never a shell.
    os.execv(sys.executable, [sys.executable, "-m", service, *argv])  # noqa: S606
    return 1  # unreachable: execv returns only by raising


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
