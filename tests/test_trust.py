"""Only edge can vouch for a caller: inner tiers refuse anything else, edge trusts no client."""

from __future__ import annotations

import httpx
import pytest

from gateway_cli.stack import Stack
from gateway_shared.plans import Plan
from gateway_shared.wire.identity import Api, Identity, IdentitySigner, RequestSummary

CHAT = {"model": "sim-chat", "messages": [{"role": "user", "content": "hi"}], "max_tokens": 2}


def _token(secret: str, ttl: float = 60) -> str:
    summary = RequestSummary(Api.CHAT, "sim-chat", False, 2, 2)  # what edge makes of CHAT
    identity = Identity("key_000000000000", "forger", Plan(), "req_forged", summary)
    return IdentitySigner(secret.encode(), ttl_seconds=ttl).sign(identity)


@pytest.mark.parametrize("tier", ["policy", "router"])
def test_inner_tier_refuses_requests_without_identity(stack: Stack, tier: str) -> None:
    url = stack.services[tier].url + "/v1/chat/completions"
    response = httpx.post(url, json=CHAT)
    assert response.status_code == 401
    assert response.json()["error"]["code"] == "invalid_identity"


@pytest.mark.parametrize("tier", ["policy", "router"])
def test_inner_tier_refuses_forged_and_expired_identity(stack: Stack, tier: str) -> None:
    url = stack.services[tier].url + "/v1/chat/completions"
    forged = _token("not-the-internal-secret-at-all")
    expired = _token(stack.secrets.internal_secret, ttl=-1)
    for token in (forged, expired, forged[:-4] + "AAAA", "garbage", "a.b.c"):
        response = httpx.post(url, json=CHAT, headers={"x-gateway-identity": token})
        assert response.status_code == 401, token


def test_inner_tier_accepts_a_valid_identity(stack: Stack) -> None:
    # The positive control: the refusals above are about the identity, not the route.
    url = stack.services["router"].url + "/v1/chat/completions"
    response = httpx.post(
        url, json=CHAT, headers={"x-gateway-identity": _token(stack.secrets.internal_secret)}
    )
    assert response.status_code == 200


def test_edge_does_not_trust_a_client_identity_header(stack: Stack) -> None:
    # Even a correctly signed identity is worthless at edge without a key.
    valid = _token(stack.secrets.internal_secret)
    response = httpx.post(
        stack.base_url + "/chat/completions", json=CHAT, headers={"x-gateway-identity": valid}
    )
    assert response.status_code == 401
    assert response.json()["error"]["code"] == "invalid_api_key"


def test_edge_replaces_a_client_identity_header_with_its_own(stack: Stack, api_key: str) -> None:
    # A client claims a plan that allows no model; edge's own identity for the key wins.
    restrictive = IdentitySigner(stack.secrets.internal_secret.encode()).sign(
        Identity("key_000000000000", "forger", Plan(models=("none",)), "req_forged")
    )
    response = httpx.post(
        stack.base_url + "/chat/completions",
        json=CHAT,
        headers={"authorization": f"Bearer {api_key}", "x-gateway-identity": restrictive},
    )
    assert response.status_code == 200, response.text
