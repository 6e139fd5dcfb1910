"""Identity tokens: what edge signs, inner tiers accept; anything else they refuse."""

from __future__ import annotations

import pytest

from gateway_shared.identity import Identity, IdentitySigner, InvalidIdentity
from gateway_shared.plans import Plan

SECRET = b"0123456789abcdef-internal"
IDENTITY = Identity("key_0123456789ab", "app", Plan(rpm=5, models=("sim-*",)), "req_1")


def test_round_trip_keeps_every_claim() -> None:
    signer = IdentitySigner(SECRET)
    assert signer.verify(signer.sign(IDENTITY)) == IDENTITY


@pytest.mark.parametrize(
    "token",
    [None, "", "no-dot", "a.b", "a.b.c", "!!!.???"],
)
def test_malformed_tokens_are_refused(token: str | None) -> None:
    with pytest.raises(InvalidIdentity):
        IdentitySigner(SECRET).verify(token)


def test_another_secret_is_refused() -> None:
    token = IdentitySigner(b"another-secret-of-16-bytes").sign(IDENTITY)
    with pytest.raises(InvalidIdentity):
        IdentitySigner(SECRET).verify(token)


def test_a_tampered_payload_is_refused() -> None:
    signer = IdentitySigner(SECRET)
    payload, mac = signer.sign(IDENTITY).split(".")
    forged = (
        IdentitySigner(SECRET)
        .sign(Identity("key_0123456789ab", "app", Plan(), "req_1"))
        .split(".")[0]
    )
    with pytest.raises(InvalidIdentity):
        signer.verify(f"{forged}.{mac}")
    assert payload != forged


def test_expired_tokens_are_refused() -> None:
    signer = IdentitySigner(SECRET, ttl_seconds=60)
    token = signer.sign(IDENTITY, now=1000.0)
    assert signer.verify(token, now=1059.0) == IDENTITY
    with pytest.raises(InvalidIdentity):
        signer.verify(token, now=1061.0)


def test_short_secrets_are_rejected_at_construction() -> None:
    with pytest.raises(ValueError, match="at least 16 bytes"):
        IdentitySigner(b"short")
