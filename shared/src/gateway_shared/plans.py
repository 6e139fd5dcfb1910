"""A key's plan: the limits policy enforces for it. Every limit is optional.

USD budgets are in USD; policy counts them in nano-USD (``gateway_shared.prices``).
"""

from __future__ import annotations

from enum import StrEnum
from fnmatch import fnmatchcase

from pydantic import BaseModel, ConfigDict, Field, model_validator


class CachePlan(BaseModel):
    """The plan's response cache (docs/policy.md, "Response cache"): off without one."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    ttl_s: int = Field(gt=0, description="how long an answer is kept (policy caps it)")
    # Keys whose plans name the same namespace share entries; by default each key has its own.
    namespace: str | None = Field(default=None, min_length=1, max_length=64)
    tool_calls: bool = Field(default=False, description="store answers that call tools")


class Priority(StrEnum):
    """How a key's requests rank when a model's fleet is saturated: the router sheds
    ``low`` first and ``high`` last, and passes the rank to engines that schedule by it."""

    HIGH = "high"
    NORMAL = "normal"
    LOW = "low"


class Plan(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)

    rpm: int | None = Field(default=None, gt=0, description="requests per minute")
    tpm: int | None = Field(default=None, gt=0, description="tokens per minute")
    max_concurrent: int | None = Field(default=None, gt=0)
    daily_tokens: int | None = Field(default=None, gt=0)
    monthly_tokens: int | None = Field(default=None, gt=0)
    models: tuple[str, ...] = Field(default=("*",), description="allowed model patterns")
    max_tokens: int | None = Field(default=None, gt=0, description="cap on max_tokens")
    daily_usd: float | None = Field(default=None, gt=0, description="USD per UTC day")
    monthly_usd: float | None = Field(default=None, gt=0, description="USD per UTC month")
    # Keys whose plans name the same group share its budgets: the group's spend is the
    # sum over its keys, checked beside each key's own.
    budget_group: str | None = Field(default=None, pattern=r"^[A-Za-z0-9_.-]{1,64}$")
    group_daily_usd: float | None = Field(default=None, gt=0)
    group_monthly_usd: float | None = Field(default=None, gt=0)

    cache: CachePlan | None = None
    priority: Priority = Priority.NORMAL

    @model_validator(mode="after")
    def _group_budgets_need_a_group(self) -> Plan:
        if (self.group_daily_usd or self.group_monthly_usd) and not self.budget_group:
            raise ValueError("group_daily_usd and group_monthly_usd need a budget_group")
        return self

    @property
    def has_budget(self) -> bool:
        """Any USD budget applies: its requests must have a known worst-case cost."""
        return any((self.daily_usd, self.monthly_usd, self.group_daily_usd, self.group_monthly_usd))

    def allows_model(self, model: str) -> bool:
        return any(fnmatchcase(model, pattern) for pattern in self.models)
