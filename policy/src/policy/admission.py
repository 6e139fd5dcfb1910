"""Deciding one request: allowed model, output cap, then every limit at once in Redis.

The rules on a request's output tokens live here: a request may not ask for more than
its plan's ``max_tokens``; one that asks for nothing is reserved, and sent to the
provider with, the plan's cap (the router applies it: ``wire.admission``), or with
``default_completion_tokens`` when the plan has no cap (sent only for a key with a USD
budget, whose worst case must be finite; otherwise that is only what is reserved).

A key with a USD budget reserves the request's worst-case cost: every prompt token and
every output token it allows at the highest rate of its alias (``policy.prices``). An
alias whose rates are unknown cannot be bounded: the request is refused (400
``model_not_priced``) rather than run unbudgeted.
"""

from __future__ import annotations

import logging
from typing import NoReturn

from redis.exceptions import RedisError
from redis.exceptions import TimeoutError as RedisTimeoutError

from gateway_shared.errors import GatewayError, model_not_found
from gateway_shared.observability.logs import ThrottledLog
from gateway_shared.plans import Plan
from gateway_shared.prices import Prices
from gateway_shared.wire.admission import Admitted
from gateway_shared.wire.identity import Api, Identity, RequestSummary
from policy.accounting import Ticket
from policy.ledger import Ledger
from policy.limits.limiter import UNLIMITED, Decision, Limiter
from policy.metrics import LIMITER_UNAVAILABLE, PolicyMetrics
from policy.prices import PriceBook
from policy.rejections import rejection
from policy.settings import FailureMode, PolicySettings
from policy.usage import utcnow

log = logging.getLogger("policy.admission")


class Admission:
    def __init__(
        self,
        limiter: Limiter,
        settings: PolicySettings,
        metrics: PolicyMetrics | None = None,
        ledger: Ledger | None = None,
        prices: PriceBook | None = None,
    ) -> None:
        self._limiter = limiter
        self._settings = settings
        self._metrics = metrics
        self.ledger = ledger or Ledger(
            limiter,
            capacity=settings.settle_queue_size,
            keep_seconds=settings.settle_keep_seconds,
            metrics=metrics,
        )
        self._prices = prices
        self._fail_open_log = ThrottledLog(log)
        self.unmetered = 0  # requests admitted without Redis (fail-open mode)

    def _output_bound(self, identity: Identity, summary: RequestSummary) -> tuple[int, Admitted]:
        """The most output tokens the request can use, and what the router must apply."""
        if summary.api is Api.EMBEDDINGS:
            return 0, Admitted()
        cap = identity.plan.max_tokens
        asked = summary.max_output_tokens
        if asked is not None:
            if cap is not None and asked > cap:
                raise GatewayError(
                    f"max_tokens is too large: {asked}. This key allows at most {cap}.",
                    status=400,
                    param="max_tokens",
                    code="max_tokens_exceeded",
                )
            return asked, Admitted()
        if cap is not None:
            return cap, Admitted(output_cap=cap)
        default = self._settings.default_completion_tokens
        if identity.plan.has_budget:
            return default, Admitted(output_cap=default)
        return default, Admitted()

    def check(self, identity: Identity, summary: RequestSummary) -> tuple[int, Admitted]:
        """What the plan allows of the request, before any limit: the model and the output
        cap. Returns the output bound and what the router must apply."""
        if not identity.plan.allows_model(summary.model):
            raise model_not_found(summary.model)
        return self._output_bound(identity, summary)

    async def admit(
        self, identity: Identity, summary: RequestSummary
    ) -> tuple[Ticket, Decision, Admitted]:
        plan = identity.plan
        bound, admitted = self.check(identity, summary)
        estimate = summary.prompt_tokens + bound
        admitted_at = utcnow()
        quote, worst_cost = None, 0

        def ticket(reserved: int, reserved_cost: int) -> Ticket:
            return Ticket(
                self.ledger,
                identity,
                summary.model,
                reserved,
                estimate,
                summary.prompt_tokens,
                admitted_at,
                metrics=self._metrics,
                quote=quote,
                reserved_cost=reserved_cost,
            )

        try:
            quote, worst_cost = await self._quote(plan, summary, bound)
            decision = await self._limiter.admit(
                identity.key_id, plan, identity.request_id, estimate, worst_cost
            )
        except RedisError as exc:
            if quote is None and self._prices is not None:
                quote = self._prices.get(summary.model)
            # A call that timed out may have run, its answer lost: the ticket holds what it
            # would have reserved, and settling it gives back exactly what was (SETTLE
            # finds the lease or not). Else a refused request's slot stayed taken until its
            # lease expired. A refused connection ran nothing: releasing it would only fill
            # the ledger's queue for as long as Redis is down.
            unsure = ticket(estimate, worst_cost)
            try:
                decision = self._redis_down(identity, exc)
            except GatewayError:
                if isinstance(exc, RedisTimeoutError):
                    await unsure.release()
                raise
            return unsure, decision, admitted
        if not decision.admitted:
            self._rejected(identity, decision, summary, estimate, worst_cost)
        return ticket(decision.reserved, decision.reserved_cost), decision, admitted

    async def _quote(
        self, plan: Plan, summary: RequestSummary, bound: int
    ) -> tuple[Prices | None, int]:
        """The alias's prices, and the request's worst-case cost to reserve (nano-USD;
        0 without a budget)."""
        if self._prices is None:
            quote = None
        elif plan.has_budget:
            quote = await self._prices.lookup(summary.model)
        else:
            quote = self._prices.get(summary.model)
        if not plan.has_budget:
            return quote, 0
        worst = quote.worst_case_nusd(summary.prompt_tokens, bound) if quote else None
        if worst is None:
            raise GatewayError(
                f"The model '{summary.model}' has no prices in the gateway's catalog, and "
                "this key has a USD budget: its cost cannot be bounded. Ask the gateway's "
                "operator to price it, or use a priced model.",
                status=400,
                param="model",
                code="model_not_priced",
            )
        return quote, worst

    async def admit_hit(self, identity: Identity, summary: RequestSummary) -> Decision:
        """A request the response cache answers: checked like any other, counted against
        ``rpm`` only (``Limiter.admit_hit``)."""
        self.check(identity, summary)
        try:
            decision = await self._limiter.admit_hit(
                identity.key_id, identity.plan, identity.request_id, summary.model
            )
        except RedisError as exc:
            decision = self._redis_down(identity, exc)
        if not decision.admitted:
            self._rejected(identity, decision, summary, 0)
        return decision

    def _rejected(
        self,
        identity: Identity,
        decision: Decision,
        summary: RequestSummary,
        estimate: int,
        cost: int = 0,
    ) -> NoReturn:
        if self._metrics is not None and decision.reason is not None:
            self._metrics.rejected(decision.reason, identity.key_name)
        raise rejection(
            identity.plan, decision, estimate, cost, anthropic=summary.api is Api.MESSAGES
        )

    def _redis_down(self, identity: Identity, exc: RedisError) -> Decision:
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
        return UNLIMITED
