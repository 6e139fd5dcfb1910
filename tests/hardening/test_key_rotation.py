"""Rotating the key pepper: while the previous pepper is still configured, keys hashed
with it keep working beside keys hashed with the new one."""

from __future__ import annotations

import os
import re
import subprocess
import sys
from collections.abc import Iterator
from contextlib import contextmanager

import openai

from gateway_cli.stack import Stack
from tests.conftest import create_key

NEW_PEPPER = "a-new-pepper-for-rotation-0123456789"


@contextmanager
def _rotation(stack: Stack) -> Iterator[None]:
    """Edge restarted with the new pepper current and the old one previous."""
    edge = stack.services["edge"]
    original = dict(edge.env)
    edge.env |= {
        "GATEWAY_KEY_PEPPER": NEW_PEPPER,
        "GATEWAY_KEY_PEPPER_PREVIOUS": stack.secrets.key_pepper,
    }
    edge.restart()
    try:
        yield
    finally:
        edge.env = original
        edge.restart()


def _key_with_new_pepper(stack: Stack) -> str:
    env = os.environ | {
        "GATEWAY_KEY_PEPPER": NEW_PEPPER,
        "GATEWAY_KEY_REGISTRY_FILE": str(stack.registry_path),
        "REDIS_URL": stack.redis_url,
    }
    out = subprocess.run(
        [sys.executable, "-m", "gateway_cli.main", "keys", "create", "after-rotation"],
        env=env,
        capture_output=True,
        text=True,
        check=True,
        timeout=60,
    ).stdout
    match = re.search(r"^(sk-gw-\S+)$", out, re.MULTILINE)
    assert match
    return match.group(1)


def _works(stack: Stack, key: str) -> bool:
    client = openai.OpenAI(base_url=stack.base_url, api_key=key, max_retries=0)
    try:
        client.models.list()
    except openai.AuthenticationError:
        return False
    return True


def test_old_and_new_keys_work_during_rotation(stack: Stack) -> None:
    old_key = create_key(stack, "before-rotation")
    with _rotation(stack):
        new_key = _key_with_new_pepper(stack)
        assert _works(stack, old_key)
        assert _works(stack, new_key)
    # Rotation over (previous pepper dropped, here: the original restored): the key
    # hashed with the pepper no longer configured stops working.
    assert _works(stack, old_key)
    assert not _works(stack, new_key)
