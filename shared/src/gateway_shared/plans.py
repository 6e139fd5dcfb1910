"""A key's plan: the limits policy enforces for it. Every limit is optional."""

from __future__ import annotations

from fnmatch import fnmatchcase

from pydantic import BaseModel, ConfigDict, Field


class CachePlan(BaseModel):
    """The plan's response cache (docs/policy.md, "Response cache"): off without one."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    ttl_s: int = Field(gt=0, description="how long an answer is kept (policy caps it)")
    # Keys whose plans name the same namespace share entries; by default each key has its own.
    namespace: str | None = Field(default=None, min_length=1, max_length=64)
    tool_calls: bool = Field(default=False, description="store answers that call tools")


class Plan(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)

    rpm: int | None = Field(default=None, gt=0, description="requests per minute")
    tpm: int | None = Field(default=None, gt=0, description="tokens per minute")
    max_concurrent: int | None = Field(default=None, gt=0)
    daily_tokens: int | None = Field(default=None, gt=0)
    monthly_tokens: int | None = Field(default=None, gt=0)
    models: tuple[str, ...] = Field(default=("*",), description="allowed model patterns")
    max_tokens: int | None = Field(default=None, gt=0, description="cap on max_tokens")
    cache: CachePlan | None = None

    def allows_model(self, model: str) -> bool:
        return any(fnmatchcase(model, pattern) for pattern in self.models)
