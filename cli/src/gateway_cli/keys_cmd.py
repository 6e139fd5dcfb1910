"""``gateway keys``: create (the key is printed once), list (never a secret), revoke, usage.

The registry file is the source of truth; when ``REDIS_URL`` is set the change is also
written to Redis at once, otherwise edge picks the file change up on its next check.
In a deployment the file's content is the Doppler secret GATEWAY_KEY_REGISTRY:
``doppler secrets set GATEWAY_KEY_REGISTRY < keys.json``.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import sys
from pathlib import Path
from typing import Any

from redis.exceptions import RedisError

from edge import keystore
from gateway_shared.keys import KeyRecord, Registry
from gateway_shared.plans import Plan
from gateway_shared.redis_client import connect
from policy.usage import read_usage


def add_parser(sub: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    keys = sub.add_parser("keys", help="manage gateway API keys")
    keys.add_argument(
        "--registry",
        type=Path,
        default=os.environ.get("GATEWAY_KEY_REGISTRY_FILE"),
        help="key registry file (default: $GATEWAY_KEY_REGISTRY_FILE)",
    )
    actions = keys.add_subparsers(dest="action", required=True)
    create = actions.add_parser("create", help="create a key and print it once")
    create.add_argument("name")
    for limit in ("rpm", "tpm", "max-concurrent", "daily-tokens", "monthly-tokens", "max-tokens"):
        create.add_argument(f"--{limit}", type=int)
    for budget in ("daily-usd", "monthly-usd", "group-daily-usd", "group-monthly-usd"):
        create.add_argument(f"--{budget}", type=float)
    create.add_argument("--budget-group", help="a team of keys sharing the group budgets")
    create.add_argument("--models", nargs="+", default=["*"], help="allowed model patterns")
    actions.add_parser("list", help="list keys (never their secret)")
    revoke = actions.add_parser("revoke", help="revoke a key by id or name")
    revoke.add_argument("key")
    usage = actions.add_parser("usage", help="a key's usage today and this month (needs REDIS_URL)")
    usage.add_argument("key")


async def _usage(record: KeyRecord) -> dict[str, Any]:
    redis = connect(os.environ["REDIS_URL"], timeout_seconds=2.0)
    try:
        return await read_usage(redis, record.id, record.plan.budget_group)
    finally:
        await redis.aclose()


async def _sync_redis(record: KeyRecord, registry: Registry) -> None:
    url = os.environ.get("REDIS_URL")
    if not url:
        return
    redis = connect(url, timeout_seconds=2.0)
    try:
        await keystore.load_registry(redis, registry)
    except RedisError:
        print(
            f"note: Redis unreachable; edge loads {record.name!r} from the registry on its "
            "next check",
            file=sys.stderr,
        )
    finally:
        await redis.aclose()


def run(args: argparse.Namespace) -> int:
    if args.registry is None:
        print("error: pass --registry or set GATEWAY_KEY_REGISTRY_FILE", file=sys.stderr)
        return 2
    path: Path = args.registry
    registry = Registry.load(path)
    if args.action == "list":
        print(f"{'id':<18} {'name':<24} {'status':<8} plan")
        for r in registry.keys:
            status = "revoked" if r.revoked else "active"
            limits = r.plan.model_dump_json(exclude_defaults=True)
            print(f"{r.id:<18} {r.name:<24} {status:<8} {limits}")
        return 0
    if args.action == "create":
        pepper = os.environ.get("GATEWAY_KEY_PEPPER")
        if not pepper:
            print("error: GATEWAY_KEY_PEPPER is not set (it comes from Doppler)", file=sys.stderr)
            return 2
        try:
            plan = Plan(
                rpm=args.rpm,
                tpm=args.tpm,
                max_concurrent=args.max_concurrent,
                daily_tokens=args.daily_tokens,
                monthly_tokens=args.monthly_tokens,
                max_tokens=args.max_tokens,
                models=tuple(args.models),
                daily_usd=args.daily_usd,
                monthly_usd=args.monthly_usd,
                budget_group=args.budget_group,
                group_daily_usd=args.group_daily_usd,
                group_monthly_usd=args.group_monthly_usd,
            )
            key, record = registry.add(args.name, plan, pepper.encode())
        except ValueError as exc:
            print(f"error: {exc}", file=sys.stderr)
            return 1
        registry.save(path)
        asyncio.run(_sync_redis(record, registry))
        print(f"created {record.id} ({record.name}); this is the only time the key is shown:")
        print(key)
        return 0
    if args.action == "usage":
        if not os.environ.get("REDIS_URL"):
            print("error: REDIS_URL is not set", file=sys.stderr)
            return 2
        try:
            record = registry.find(args.key)
        except KeyError:
            print(f"error: no key {args.key!r}", file=sys.stderr)
            return 1
        report = {"key": {"id": record.id, "name": record.name}, **asyncio.run(_usage(record))}
        print(json.dumps(report, indent=2))
        return 0
    try:
        record = registry.revoke(args.key)
    except KeyError:
        print(f"error: no key {args.key!r}", file=sys.stderr)
        return 1
    registry.save(path)
    asyncio.run(_sync_redis(record, registry))
    print(f"revoked {record.id} ({record.name})")
    return 0
