"""Redis is ephemeral: after it restarts empty, keys work again with no manual step."""

from __future__ import annotations

import openai
import pytest

from gateway_cli.stack import Stack
from tests.conftest import create_key
from tests.support.waiting import wait_until


def test_keys_work_after_redis_restarts_empty(stack: Stack) -> None:
    if stack.redis is None:
        pytest.skip("the stack uses an external Redis")
    # A key no edge has cached yet, so it must come from Redis after the restart.
    key = create_key(stack, "survives-restart")
    stack.redis.restart()
    client = openai.OpenAI(base_url=stack.base_url, api_key=key, max_retries=0, timeout=10)

    def works() -> bool:
        try:
            client.chat.completions.create(
                model="sim-chat", messages=[{"role": "user", "content": "hi"}], max_tokens=1
            )
        except (openai.APIConnectionError, openai.InternalServerError):
            return False
        return True

    # Edge re-loads the registry on the first lookup that misses; the bound covers
    # pooled connections to the old server being replaced.
    wait_until(works, timeout=10, interval=0.2, what="the key to work after the restart")
