"""Loopback ports for processes we start: free ones, and whether a given one is taken."""

from __future__ import annotations

import socket


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


def in_use(port: int) -> bool:
    """True if a tier could not bind ``port`` on loopback now, whoever holds it."""
    with socket.socket() as sock:
        # As the tiers' server does, so a port that only lingers in TIME_WAIT counts as free.
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            sock.bind(("127.0.0.1", port))
        except OSError:
            return True
        return False
