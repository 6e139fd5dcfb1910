"""The wire contract between tiers: identity tokens (what edge signs, inner tiers accept,
anything else they refuse), the request summary, the router's report and the stream
trailer, and policy's admission facts."""

from __future__ import annotations

import base64
import hmac

import orjson
import pytest

from gateway_shared.plans import Plan
from gateway_shared.wire.admission import Admitted
from gateway_shared.wire.identity import (
    Api,
    Identity,
    IdentitySigner,
    InvalidIdentity,
    RequestSummary,
)
from gateway_shared.wire.report import Report, Usage, parse_usage_trailer, usage_trailer

SECRET = b"0123456789abcdef-internal"
NEW_SECRET = b"fedcba9876543210-rotated"
IDENTITY = Identity("key_0123456789ab", "app", Plan(rpm=5, models=("sim-*",)), "req_1")
SUMMARY = RequestSummary(Api.CHAT, "sim-chat", True, 12, None)


def test_round_trip_keeps_every_claim() -> None:
    signer = IdentitySigner(SECRET)
    assert signer.verify(signer.sign(IDENTITY)) == IDENTITY
    with_summary = Identity(IDENTITY.key_id, "app", Plan(), "req_2", request=SUMMARY)
    assert signer.verify(signer.sign(with_summary)) == with_summary
    capped = RequestSummary(Api.EMBEDDINGS, "m", False, 3, 100)
    assert (
        signer.verify(signer.sign(with_summary.__class__("k", "n", Plan(), "r", capped))).request
        == capped
    )


def test_a_rotated_secret_accepts_the_previous_one_while_it_is_set() -> None:
    old = IdentitySigner(SECRET)
    rotating = IdentitySigner(NEW_SECRET, previous=SECRET)
    # Old signers' tokens still pass, new ones pass everywhere that knows the new secret.
    assert rotating.verify(old.sign(IDENTITY)) == IDENTITY
    assert rotating.verify(rotating.sign(IDENTITY)) == IDENTITY
    assert IdentitySigner(SECRET, previous=NEW_SECRET).verify(rotating.sign(IDENTITY)) == IDENTITY
    # Once the previous secret is dropped, tokens made with it are refused.
    with pytest.raises(InvalidIdentity):
        IdentitySigner(NEW_SECRET).verify(old.sign(IDENTITY))


def test_a_summary_that_is_not_one_is_malformed() -> None:
    signer = IdentitySigner(SECRET)
    for bad in ([], ["chat", 1, True, 1, None], ["nope", "m", True, 1, None], "x"):
        with pytest.raises(InvalidIdentity):
            signer.verify(_sign_claims(signer, {"req": bad}))


def _sign_claims(signer: IdentitySigner, extra: dict[str, object]) -> str:
    """A validly signed token carrying whatever claims it is given."""
    claims = {"kid": "k", "name": "n", "plan": "{}", "rid": "r", "exp": 2e10, **extra}
    payload = base64.urlsafe_b64encode(orjson.dumps(claims)).rstrip(b"=")
    mac = base64.urlsafe_b64encode(hmac.digest(SECRET, payload, "sha256")).rstrip(b"=")
    return (payload + b"." + mac).decode()


def test_report_round_trip_through_headers() -> None:
    report = Report("sim-chat", 0.0125, Usage(7, 3))
    headers = report.headers()
    assert headers == {
        "x-gateway-model": "sim-chat",
        "x-gateway-provider-ms": "12.500",
        "x-gateway-usage": '{"prompt_tokens":7,"completion_tokens":3}',
    }
    assert Report.from_headers(headers) == report
    assert Report.from_headers({}) == Report()
    # What an inner tier cannot have meant is dropped, never raised.
    odd = {"x-gateway-model": "m" * 500, "x-gateway-provider-ms": "x", "x-gateway-usage": "{"}
    assert Report.from_headers(odd) == Report()


def test_usage_trailer_round_trip() -> None:
    trailer = usage_trailer(Usage(12, 34, estimated=True))
    assert trailer.startswith(b":")  # an SSE comment: clients ignore it
    assert parse_usage_trailer(trailer.rstrip(b"\n")) == Usage(12, 34, estimated=True)
    assert parse_usage_trailer(b'data: {"x": 1}') is None


def test_admission_facts_round_trip() -> None:
    assert Admitted.from_headers(Admitted(output_cap=256).headers()) == Admitted(256)
    assert Admitted().headers() == {}
    assert Admitted.from_headers({"x-gateway-admission": "lots"}) == Admitted()


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
