"""``python -m simulator [--host H] [--port P]``: serve the simulator with uvicorn.

Every other setting comes from ``SIM_*`` environment variables (see
:class:`simulator.settings.SimulatorSettings`).
"""

from __future__ import annotations

import argparse
import os

from gateway_shared.tier.server import serve
from simulator.settings import SimulatorSettings


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(
        prog="python -m simulator",
        description="Serve the simulator. Other settings come from SIM_* environment variables.",
    )
    parser.add_argument("--host", help="listen address (default: SIM_HOST or 127.0.0.1)")
    parser.add_argument("--port", type=int, help="listen port (default: SIM_PORT or 8090)")
    parser.add_argument("--log-level", default="warning", help="uvicorn log level")
    args = parser.parse_args(argv)
    # The app factory reads SIM_* itself: make the flags visible to it too.
    if args.host is not None:
        os.environ["SIM_HOST"] = args.host
    if args.port is not None:
        os.environ["SIM_PORT"] = str(args.port)
    settings = SimulatorSettings()
    serve(
        "simulator.app:create_app", host=settings.host, port=settings.port, log_level=args.log_level
    )


if __name__ == "__main__":
    main()
