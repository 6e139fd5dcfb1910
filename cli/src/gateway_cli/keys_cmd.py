"""``gateway keys``: init, create (the key is printed once), list (never a secret),
update (a key's plan), revoke, usage.

The registry is read from where it lives and written back there (``key_source``); when
a Redis is known the change is also written to Redis at once, otherwise edge picks it up
on its next check. Every mistake is one ``error:`` line and a non-zero exit.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import sys
from pathlib import Path
from typing import Any

from pydantic import ValidationError
from redis.exceptions import RedisError

from edge import keystore
from gateway_cli.doppler import DopplerError
from gateway_cli.key_source import KeysError, KeySource, resolve
from gateway_shared.cache_layout import purge_keys
from gateway_shared.keys import KeyRecord, Registry
from gateway_shared.plans import Plan, Priority
from gateway_shared.redis_client import connect
from policy.usage import read_usage

LIMITS = ("rpm", "tpm", "max-concurrent", "daily-tokens", "monthly-tokens", "max-tokens")
BUDGETS = ("daily-usd", "monthly-usd", "group-daily-usd", "group-monthly-usd")


def _limit(text: str) -> int | None:
    """A limit's value: a whole number, or ``none`` for no limit."""
    if text.lower() == "none":
        return None
    try:
        return int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"{text!r} is not a whole number or 'none'") from None


def _usd(text: str) -> float | None:
    """A budget in USD, or ``none`` for no budget."""
    if text.lower() == "none":
        return None
    try:
        return float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"{text!r} is not an amount in USD or 'none'") from None


def _none_or_text(text: str) -> str | None:
    return None if text.lower() == "none" else text


def _patterns(text: str) -> tuple[str, ...]:
    return tuple(p.strip() for p in text.split(",") if p.strip())


def _where_options(parser: argparse.ArgumentParser, *, top: bool) -> None:
    """Accepted before the action and after it; after it, an absent option does not
    override what was given before (``SUPPRESS``)."""

    def defaults(value: object) -> dict[str, Any]:
        return {"default": value if top else argparse.SUPPRESS}

    registry_env = os.environ.get("GATEWAY_KEY_REGISTRY_FILE")
    parser.add_argument(
        "--registry",
        type=Path,
        help="key registry file (default: $GATEWAY_KEY_REGISTRY_FILE)",
        **defaults(Path(registry_env) if registry_env else None),
    )
    parser.add_argument(
        "--doppler",
        action="store_true",
        help="read and publish the registry in Doppler, through the Doppler CLI",
        **defaults(False),
    )
    parser.add_argument(
        "--workdir",
        type=Path,
        help="the gateway dev workdir used when no registry is named (default: .gateway)",
        **defaults(Path(".gateway")),
    )


def _plan_options(parser: argparse.ArgumentParser, *, models_default: str | None) -> None:
    for limit in LIMITS:
        parser.add_argument(f"--{limit}", type=_limit, default=argparse.SUPPRESS, metavar="N")
    for budget in BUDGETS:
        parser.add_argument(f"--{budget}", type=_usd, default=argparse.SUPPRESS, metavar="USD")
    parser.add_argument(
        "--budget-group",
        type=_none_or_text,
        default=argparse.SUPPRESS,
        metavar="GROUP",
        help="a team of keys sharing the --group-*-usd budgets",
    )
    parser.add_argument(
        "--models",
        type=_patterns,
        default=argparse.SUPPRESS,
        metavar="PATTERNS",
        help="allowed model patterns, comma-separated (e.g. 'sim-*,gpt-4o')"
        + (f"; default {models_default!r}" if models_default else ""),
    )
    parser.add_argument(
        "--priority",
        choices=[p.value for p in Priority],
        default=argparse.SUPPRESS,
        help="rank when a model's fleet is saturated: low is shed first"
        + ("; default 'normal'" if models_default else ""),
    )
    # The response cache (docs/policy.md): on with a TTL, off with --cache-ttl-s none.
    parser.add_argument(
        "--cache-ttl-s",
        type=_limit,
        default=argparse.SUPPRESS,
        metavar="S",
        help="cache answers for S seconds ('none': no cache)",
    )
    parser.add_argument(
        "--cache-namespace",
        default=argparse.SUPPRESS,
        metavar="NAME",
        help="share cached answers with the keys naming the same namespace",
    )
    parser.add_argument(
        "--cache-tool-calls",
        action=argparse.BooleanOptionalAction,
        default=argparse.SUPPRESS,
        help="also cache answers that call tools",
    )


def add_parser(sub: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    keys = sub.add_parser("keys", help="manage gateway API keys")
    _where_options(keys, top=True)
    actions = keys.add_subparsers(dest="action", required=True)
    parsers = {
        "init": actions.add_parser("init", help="start an empty key registry"),
        "create": actions.add_parser("create", help="create a key and print it once"),
        "list": actions.add_parser("list", help="list keys (never their secret)"),
        "update": actions.add_parser("update", help="change a key's plan (only the limits given)"),
        "revoke": actions.add_parser("revoke", help="revoke a key by id or name"),
        "usage": actions.add_parser("usage", help="a key's usage today and this month"),
    }
    for parser in parsers.values():
        _where_options(parser, top=False)
    parsers["create"].add_argument("name")
    _plan_options(parsers["create"], models_default="*")
    for action in ("update", "revoke", "usage"):
        parsers[action].add_argument("key", help="the key's id or name")
    _plan_options(parsers["update"], models_default=None)


CACHE_OPTIONS = ("cache_ttl_s", "cache_namespace", "cache_tool_calls")


def _plan_changes(args: argparse.Namespace) -> dict[str, Any]:
    """The plan's fields given on the command line (the cache's as ``cache_*``)."""
    fields = {
        name.replace("-", "_") for name in (*LIMITS, *BUDGETS, "budget-group", "models", "priority")
    } | set(CACHE_OPTIONS)
    return {name: value for name, value in vars(args).items() if name in fields}


def _with_cache(base: Plan, changes: dict[str, Any]) -> dict[str, Any]:
    """``changes`` with its ``cache_*`` options merged into the plan's ``cache`` block."""
    given = {k.removeprefix("cache_"): v for k, v in changes.items() if k in CACHE_OPTIONS}
    out = {k: v for k, v in changes.items() if k not in CACHE_OPTIONS}
    if given:
        off = "ttl_s" in given and given["ttl_s"] is None
        current = base.cache.model_dump() if base.cache is not None else {}
        out["cache"] = None if off else current | given
    return out


def _one_line(exc: ValidationError) -> str:
    """Pydantic's errors as one line, each naming the option (or the name) it is about."""
    return "; ".join(
        f"{_location(error['loc'])} {error['input']!r}: {error['msg']}"
        if error["loc"]
        else error["msg"].removeprefix("Value error, ")  # a rule across options
        for error in exc.errors()
    )


def _option(field: str) -> str:
    return field if field == "name" else "--" + field.replace("_", "-")


def _location(loc: tuple[Any, ...]) -> str:
    """The option an error is about; a cache field's is ``--cache-<field>``."""
    return _option("_".join(map(str, loc[:2])) if loc[0] == "cache" else str(loc[0]))


def _plan(base: Plan, changes: dict[str, Any]) -> Plan:
    """``base`` with ``changes``; a bad value is one line naming its option."""
    try:
        return Plan.model_validate(base.model_dump() | _with_cache(base, changes))
    except ValidationError as exc:
        raise KeysError(_one_line(exc)) from None


def _limits(plan: Plan) -> str:
    return plan.model_dump_json(exclude_defaults=True)


async def _usage(redis_url: str, key_id: str, group: str | None) -> dict[str, Any]:
    redis = connect(redis_url, timeout_seconds=2.0)
    try:
        return await read_usage(redis, key_id, group)
    finally:
        await redis.aclose()


async def _sync_redis(redis_url: str, record: KeyRecord, registry: Registry) -> None:
    redis = connect(redis_url, timeout_seconds=2.0)
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


async def _purge_cache(record: KeyRecord) -> None:
    """The revoked key's response cache entries, when the cache Redis is known (edge
    purges them too, on its next registry check)."""
    url = os.environ.get("CACHE_REDIS_URL")
    if not url:
        return
    redis = connect(url, timeout_seconds=2.0)
    try:
        await purge_keys(redis, [record.id])
    except RedisError:
        print(
            "note: the cache Redis is unreachable; edge purges on its next check", file=sys.stderr
        )
    finally:
        await redis.aclose()


def _save(source: KeySource, registry: Registry, record: KeyRecord) -> None:
    source.store.write(registry)
    if source.redis_url:
        asyncio.run(_sync_redis(source.redis_url, record, registry))


def _find(registry: Registry, key: str) -> KeyRecord:
    try:
        return registry.find(key)
    except KeyError:
        raise KeysError(f"no key {key!r}") from None


def _list(registry: Registry) -> None:
    print(f"{'id':<18} {'name':<24} {'status':<8} plan")
    for r in registry.keys:
        status = "revoked" if r.revoked else "active"
        print(f"{r.id:<18} {r.name:<24} {status:<8} {_limits(r.plan)}")


def _act(args: argparse.Namespace, source: KeySource) -> None:
    if args.action == "init":
        source.store.init()
        print(f"started an empty key registry in {source.store.where}")
        return
    registry = source.store.read()
    if args.action == "list":
        _list(registry)
    elif args.action == "create":
        plan = _plan(Plan(), _plan_changes(args))
        try:
            key, record = registry.add(args.name, plan, source.pepper().encode())
        except ValidationError as exc:
            raise KeysError(_one_line(exc)) from None
        except ValueError as exc:
            raise KeysError(str(exc)) from None
        _save(source, registry, record)
        print(f"created {record.id} ({record.name}); this is the only time the key is shown:")
        print(key)
    elif args.action == "update":
        changes = _plan_changes(args)
        if not changes:
            raise KeysError("nothing to change: give the limits to set, e.g. --rpm 1200")
        record = _find(registry, args.key)
        try:
            record = registry.set_plan(record.id, _plan(record.plan, changes))
        except ValueError as exc:
            raise KeysError(str(exc)) from None
        _save(source, registry, record)
        print(f"updated {record.id} ({record.name}): {_limits(record.plan)}")
    elif args.action == "revoke":
        record = _find(registry, args.key)
        if record.revoked:
            print(f"{record.id} ({record.name}) was already revoked")
            return
        record = registry.revoke(record.id)
        _save(source, registry, record)
        asyncio.run(_purge_cache(record))
        print(f"revoked {record.id} ({record.name})")
    else:
        if not source.redis_url:
            raise KeysError("usage lives in Redis: set REDIS_URL, or run beside `gateway dev`")
        record = _find(registry, args.key)
        usage = asyncio.run(_usage(source.redis_url, record.id, record.plan.budget_group))
        print(json.dumps({"key": {"id": record.id, "name": record.name}, **usage}, indent=2))


def run(args: argparse.Namespace) -> int:
    try:
        source = resolve(
            use_doppler=args.doppler,
            registry_file=args.registry,
            workdir=args.workdir.resolve(),
        )
        if source.note:
            print(f"note: {source.note}", file=sys.stderr)
        _act(args, source)
    except (KeysError, DopplerError) as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 1
    return 0
