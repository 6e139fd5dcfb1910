"""Deciding one request: allowed model, max_tokens cap, then every limit at once in Redis."""

from __future__ import annotations

import logging
from typing import Any

from redis.exceptions import RedisError

from gateway_shared.errors import GatewayError
from gateway_shared.identity import Identity
from gateway_shared.logs import ThrottledLog
from gateway_shared.tokens import estimate_prompt_tokens
from gateway_shared.usage import utcnow
from policy.accounting import Ticket
from policy.limits.limiter import UNLIMITED, Decision, Limiter
from policy.metrics import LIMITER_UNAVAILABLE, PolicyMetrics
from policy.settings import FailureMode, PolicySettings
from policy.signals import rejection

log = logging.getLogger("policy.admission")


def completion_budget(body: dict[str, Any], plan_cap: int | None, default: int) -> int:
    requested = body.get("max_completion_tokens") or body.get("max_tokens")
    if isinstance(requested, int):
        return requested
    return plan_cap or default


class Admission:
    def __init__(
        self, limiter: Limiter, settings: PolicySettings, metrics: PolicyMetrics | None = None
    ) -> None:
        self._limiter = limiter
        self._settings = settings
        self._metrics = metrics
        self._fail_open_log = ThrottledLog(log)
        self.unmetered = 0  # requests admitted without Redis (fail-open mode)

    async def admit(
        self, identity: Identity, body: dict[str, Any], embeddings: bool
    ) -> tuple[Ticket, Decision]:
        plan = identity.plan
        model = body.get("model")
        if not isinstance(model, str) or not plan.allows_model(model):
            # 404, not 403: a key must not learn which models exist beyond its own.
            raise GatewayError(
                f"The model `{model}` does not exist or you do not have access to it.",
                status=404,
                param="model",
                code="model_not_found",
            )
        requested = body.get("max_completion_tokens") or body.get("max_tokens")
        if plan.max_tokens and isinstance(requested, int) and requested > plan.max_tokens:
            raise GatewayError(
                f"max_tokens is too large: {requested}. This key allows at most {plan.max_tokens}.",
                status=400,
                param="max_tokens",
                code="max_tokens_exceeded",
            )
        prompt = estimate_prompt_tokens(body)
        budget = (
            0
            if embeddings
            else completion_budget(body, plan.max_tokens, self._settings.default_completion_tokens)
        )
        estimate = prompt + budget
        admitted_at = utcnow()
        try:
            decision = await self._limiter.admit(
                identity.key_id, plan, identity.request_id, estimate
            )
        except RedisError as exc:
            if self._settings.redis_failure_mode is FailureMode.CLOSED:
                if self._metrics is not None:
                    self._metrics.rejected(LIMITER_UNAVAILABLE, identity.key_name)
                raise GatewayError(
                    "The gateway cannot check rate limits right now. Please retry shortly.",
                    status=503,
                    code="rate_limiter_unavailable",
                    headers={"retry-after": "1"},
                ) from None
            self.unmetered += 1
            if self._metrics is not None:
                self._metrics.unmetered.inc()
            self._fail_open_log.warning(
                "Redis unavailable (%s): admitting requests unmetered (fail-open)",
                type(exc).__name__,
            )
            decision = UNLIMITED
        if not decision.admitted:
            if self._metrics is not None and decision.reason is not None:
                self._metrics.rejected(decision.reason, identity.key_name)
            raise rejection(plan, decision, estimate)
        ticket = Ticket(
            self._limiter,
            identity,
            model,
            decision.reserved,
            estimate,
            prompt,
            admitted_at,
            metrics=self._metrics,
        )
        return ticket, decision
