"""``gateway dev``: the whole stack on this machine, with a fresh development key."""

from __future__ import annotations

import argparse
import json
import os
import signal
import threading
from pathlib import Path

from gateway_cli.stack import Ports, Stack, StackSecrets
from gateway_shared.keys import Registry
from gateway_shared.plans import Plan


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
        "--cache-redis-url",
        default=os.environ.get("CACHE_REDIS_URL"),
        help="the response cache's Redis (default: one of its own, allkeys-lru)",
    )


def _dev_secrets(workdir: Path) -> StackSecrets:
    """Development-only secrets, kept beside the dev registry whose hashes need the pepper."""
    path = workdir / "dev-secrets.json"
    if path.exists():
        return StackSecrets(**json.loads(path.read_text()))
    created = StackSecrets()
    workdir.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(created.__dict__))
    path.chmod(0o600)
    return created


def _dev_key(stack: Stack) -> str:
    registry = Registry.load(stack.registry_path)
    for record in registry.keys:
        if record.name == "dev" and not record.revoked:
            registry.revoke(record.id)
    key, _ = registry.add("dev", Plan(), stack.secrets.key_pepper.encode())
    registry.save(stack.registry_path)
    return key


def run(args: argparse.Namespace) -> int:
    workdir: Path = args.workdir.resolve()
    p = args.port
    ports = Ports(edge=p, policy=p + 1, router=p + 2, simulator=p + 10) if p else Ports()
    stack = Stack(
        workdir,
        redis_url=args.redis_url,
        cache_redis_url=args.cache_redis_url,
        ports=ports,
        stack_secrets=_dev_secrets(workdir),
    )
    key = _dev_key(stack)
    stopping = threading.Event()
    signal.signal(signal.SIGTERM, lambda *_: stopping.set())
    try:
        stack.start()
        print(
            f"""
Gateway running: {stack.base_url}   (logs in {workdir / "logs"})
Development key (shown once): {key}

  curl {stack.base_url}/chat/completions \\
    -H "Authorization: Bearer {key}" -H "Content-Type: application/json" \\
    -d '{{"model": "sim-chat", "messages": [{{"role": "user", "content": "Hello"}}]}}'

  from openai import OpenAI
  client = OpenAI(base_url="{stack.base_url}", api_key="{key}")
  reply = client.chat.completions.create(
      model="sim-chat", messages=[{{"role": "user", "content": "Hello"}}])
  print(reply.choices[0].message.content)

Press Ctrl-C to stop.""",
            flush=True,
        )
        stopping.wait()
    except KeyboardInterrupt:
        pass
    finally:
        print("stopping...", flush=True)
        stack.stop()
    return 0
