"""Gateway API keys and the key registry, their source of truth.

A key is ``sk-gw-`` followed by 256 random bits. Only its keyed hash (HMAC-SHA256 with a
secret pepper) is ever stored, in the registry and in Redis; the key itself is shown
once, when created. The registry - a JSON document, in a deployment the Doppler secret
``GATEWAY_KEY_REGISTRY`` - lists every key's hash, name, plan and revocation; Redis holds
an ephemeral copy that edge re-loads whenever Redis has lost it.
"""

from __future__ import annotations

import hashlib
import hmac
import secrets
import time
from pathlib import Path

import orjson
from pydantic import BaseModel, ConfigDict, Field

from gateway_shared.plans import Plan

KEY_PREFIX = "sk-gw-"


def generate_key() -> str:
    return KEY_PREFIX + secrets.token_urlsafe(32)


def hash_key(key: str, pepper: bytes) -> str:
    return hmac.new(pepper, key.encode(), hashlib.sha256).hexdigest()


def looks_like_key(value: str) -> bool:
    # A cheap shape check before any hashing or Redis work; 43 = len(token_urlsafe(32)).
    return value.startswith(KEY_PREFIX) and len(value) == len(KEY_PREFIX) + 43


class KeyRecord(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)

    id: str = Field(pattern=r"^key_[0-9a-f]{12}$")
    name: str = Field(min_length=1, max_length=64, pattern=r"^[A-Za-z0-9_.-]+$")
    hash: str = Field(pattern=r"^[0-9a-f]{64}$")
    plan: Plan = Plan()
    revoked: bool = False
    created_at: int = 0


class Registry(BaseModel):
    model_config = ConfigDict(extra="forbid")

    keys: list[KeyRecord] = []

    @classmethod
    def parse(cls, raw: str | bytes) -> Registry:
        return cls.model_validate(orjson.loads(raw) if raw.strip() else {})

    @classmethod
    def load(cls, path: Path) -> Registry:
        return cls.parse(path.read_bytes()) if path.exists() else cls()

    def dump(self) -> bytes:
        return orjson.dumps(self.model_dump(mode="json"), option=orjson.OPT_INDENT_2) + b"\n"

    def save(self, path: Path) -> None:
        path.parent.mkdir(parents=True, exist_ok=True)
        tmp = path.with_suffix(path.suffix + ".tmp")
        tmp.write_bytes(self.dump())
        tmp.chmod(0o600)
        tmp.replace(path)

    def revision(self) -> str:
        """A digest of the content: edge re-loads Redis when it differs from Redis's copy."""
        return hashlib.sha256(self.dump()).hexdigest()[:16]

    def add(self, name: str, plan: Plan, pepper: bytes) -> tuple[str, KeyRecord]:
        """Create a key; returns the key itself (to show once) and its record."""
        if any(r.name == name and not r.revoked for r in self.keys):
            raise ValueError(f"an active key named {name!r} already exists")
        key = generate_key()
        record = KeyRecord(
            id="key_" + secrets.token_hex(6),
            name=name,
            hash=hash_key(key, pepper),
            plan=plan,
            created_at=int(time.time()),
        )
        self.keys.append(record)
        return key, record

    def find(self, id_or_name: str) -> KeyRecord:
        """The active key with this id or name, else the newest revoked one."""
        for record in self.keys:
            if id_or_name in (record.id, record.name) and not record.revoked:
                return record
        for record in reversed(self.keys):
            if id_or_name in (record.id, record.name):
                return record
        raise KeyError(id_or_name)

    def _replace(self, record: KeyRecord, **changes: object) -> KeyRecord:
        changed = record.model_copy(update=changes)
        self.keys[self.keys.index(record)] = changed
        return changed

    def revoke(self, id_or_name: str) -> KeyRecord:
        """Revoke a key; revoking a revoked key changes nothing (see ``find``)."""
        record = self.find(id_or_name)
        return record if record.revoked else self._replace(record, revoked=True)

    def set_plan(self, id_or_name: str, plan: Plan) -> KeyRecord:
        record = self.find(id_or_name)
        if record.revoked:
            raise ValueError(f"key {record.id} ({record.name}) is revoked")
        return self._replace(record, plan=plan)
