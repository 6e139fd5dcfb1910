"""Keys, the registry, SSE framing and the token estimator."""

from __future__ import annotations

from pathlib import Path

import pytest

from gateway_shared.keys import KEY_PREFIX, Registry, hash_key, looks_like_key
from gateway_shared.plans import Plan
from gateway_shared.sse import EventFramer
from gateway_shared.tokens import estimate_prompt_tokens

PEPPER = b"pepper-pepper-pepper"


def test_keys_are_high_entropy_and_only_their_hash_is_stored(tmp_path: Path) -> None:
    registry = Registry()
    key, record = registry.add("app", Plan(rpm=10), PEPPER)
    other, _ = registry.add("other", Plan(), PEPPER)
    assert key.startswith(KEY_PREFIX)
    assert looks_like_key(key)
    assert key != other
    assert record.hash == hash_key(key, PEPPER) != hash_key(key, b"another-pepper-1234")
    path = tmp_path / "keys.json"
    registry.save(path)
    stored = path.read_text()
    assert key not in stored
    assert other not in stored
    assert Registry.load(path).find("app").plan.rpm == 10
    assert path.stat().st_mode & 0o777 == 0o600


def test_duplicate_active_names_and_revocation() -> None:
    registry = Registry()
    _, record = registry.add("app", Plan(), PEPPER)
    with pytest.raises(ValueError, match="already exists"):
        registry.add("app", Plan(), PEPPER)
    revision = registry.revision()
    assert registry.revoke("app").revoked
    assert registry.revision() != revision
    registry.add("app", Plan(), PEPPER)  # the name is free again
    assert registry.find(record.id).revoked


def test_revoking_twice_changes_nothing_and_a_plan_changes_only_on_an_active_key() -> None:
    registry = Registry()
    registry.add("app", Plan(rpm=10), PEPPER)
    assert registry.set_plan("app", Plan(rpm=20)).plan.rpm == 20
    revoked = registry.revoke("app")
    revision = registry.revision()
    assert registry.revoke("app") == revoked  # found by name though revoked
    assert registry.revision() == revision
    with pytest.raises(ValueError, match="is revoked"):
        registry.set_plan("app", Plan(rpm=30))
    with pytest.raises(KeyError):
        registry.find("nobody")


def test_framer_yields_whole_events_across_chunk_boundaries() -> None:
    framer = EventFramer()
    stream = b'data: {"a":1}\n\ndata: {"b":2}\r\n\r\ndata: [DONE]\n\n'
    events = []
    for i in range(0, len(stream), 7):
        events.extend(framer.feed(stream[i : i + 7]))
    assert events == [b'data: {"a":1}\n\n', b'data: {"b":2}\n\n', b"data: [DONE]\n\n"]
    assert framer.pending == b""


def test_prompt_estimate_counts_text_of_every_shape() -> None:
    chat = {"messages": [{"role": "user", "content": "x" * 40}]}
    assert estimate_prompt_tokens(chat) == 10 + 4
    parts = {"messages": [{"role": "user", "content": [{"type": "text", "text": "y" * 8}]}]}
    assert estimate_prompt_tokens(parts) == 2 + 4
    assert estimate_prompt_tokens({"prompt": "z" * 9}) == 3
    assert estimate_prompt_tokens({"input": ["ab", "cd"]}) == 1
    assert estimate_prompt_tokens({"prompt": [1, 2, 3]}) == 3
