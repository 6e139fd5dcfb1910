"""``gateway dev``: the whole stack on this machine, with a fresh development key.

It refuses to start beside another dev stack in the same workdir, or on ports that are
taken, before it touches anything; once running it watches its processes, and when one
dies it says which and stops the rest (exit 1) rather than serve half a stack.
"""

from __future__ import annotations

import argparse
import os
import signal
import sys
import threading
from pathlib import Path

from gateway_cli import devdir
from gateway_cli.ports import in_use
from gateway_cli.stack import Ports, Stack, StackError
from gateway_shared.keys import Registry
from gateway_shared.plans import Plan

# How often the running stack's processes are checked: a dead tier is reported well
# within the few seconds a developer would wait before wondering.
WATCH_INTERVAL_SECONDS = 0.25


def add_parser(sub: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    dev = sub.add_parser("dev", help="run the whole stack locally")
    dev.add_argument("--workdir", type=Path, default=Path(".gateway"))
    dev.add_argument(
        "--port",
        type=int,
        default=8080,
        help="edge port; policy, router and simulator take "
        "the next ports (+1, +2, +10); 0 picks free ports for all",
    )
    dev.add_argument("--redis-url", default=os.environ.get("REDIS_URL"))
    dev.add_argument(
        "--redis-cluster",
        action="store_true",
        help="start a Redis Cluster (3 primaries, 1 replica each) instead of one server",
    )
    dev.add_argument(
        "--cache-redis-url",
        default=os.environ.get("CACHE_REDIS_URL"),
        help="the response cache's Redis (default: one of its own, allkeys-lru)",
    )


def _dev_key(stack: Stack) -> str:
    """A fresh key named dev; the previous dev stack's key, if any, is revoked."""
    registry = Registry.load(stack.registry_path)
    for record in registry.keys:
        if record.name == "dev" and not record.revoked:
            registry.revoke(record.id)
    key, _ = registry.add("dev", Plan(), stack.secrets.key_pepper.encode())
    registry.save(stack.registry_path)
    return key


def _taken(ports: Ports) -> str | None:
    for tier, port in vars(ports).items():
        if in_use(port):
            return (
                f"port {port} ({tier}) is already in use; stop what holds it, "
                "or pass --port N (0 picks free ports)"
            )
    return None


def _banner(stack: Stack, key: str) -> str:
    workdir = stack.workdir
    return f"""
Gateway running: {stack.base_url}   (logs in {workdir / "logs"})
Development key (shown once): {key}
Redis: {stack.redis_url}
Key registry: {stack.registry_path}, pepper in {devdir.secrets_path(workdir)}
  (`gateway keys ...` run in this directory manages these keys)

  curl {stack.base_url}/chat/completions \\
    -H "Authorization: Bearer {key}" -H "Content-Type: application/json" \\
    -d '{{"model": "sim-chat", "messages": [{{"role": "user", "content": "Hello"}}]}}'

  from openai import OpenAI
  client = OpenAI(base_url="{stack.base_url}", api_key="{key}")
  reply = client.chat.completions.create(
      model="sim-chat", messages=[{{"role": "user", "content": "Hello"}}])
  print(reply.choices[0].message.content)

Press Ctrl-C to stop."""


def _fail(message: str) -> int:
    print(f"error: {message}", file=sys.stderr, flush=True)
    return 1


def _serve(stack: Stack, lock: devdir.DevLock) -> int:
    key = _dev_key(stack)
    lock.publish(devdir.DevState(os.getpid(), stack.base_url, stack.redis_url))
    stopping = threading.Event()
    for sig in (signal.SIGTERM, signal.SIGHUP):  # SIGHUP: its terminal closed
        signal.signal(sig, lambda *_: stopping.set())
    try:
        stack.start()
        print(_banner(stack, key), flush=True)
        while not stopping.wait(WATCH_INTERVAL_SECONDS):
            if (report := stack.exit_report()) is not None:
                return _fail(f"{report}; stopping the stack")
    except StackError as exc:
        return _fail(str(exc))
    except KeyboardInterrupt:
        pass
    finally:
        print("stopping...", flush=True)
        stack.stop()
    return 0


def run(args: argparse.Namespace) -> int:
    workdir: Path = args.workdir.resolve()
    p = args.port
    ports = Ports(edge=p, policy=p + 1, router=p + 2, simulator=p + 10) if p else Ports()
    try:
        lock = devdir.DevLock(workdir)
    except devdir.DevStackRunning as exc:
        return _fail(str(exc))
    try:
        if (taken := _taken(ports)) is not None:
            return _fail(taken)
        stack = Stack(
            workdir,
            redis_url=args.redis_url,
            cache_redis_url=args.cache_redis_url,
            ports=ports,
            stack_secrets=devdir.load_or_create_secrets(workdir),
            redis_cluster=args.redis_cluster,
        )
        return _serve(stack, lock)
    finally:
        lock.release()
