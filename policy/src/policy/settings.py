"""Policy settings (``POLICY_*``)."""

from __future__ import annotations

from enum import StrEnum

from pydantic import AliasChoices, Field, SecretStr
from pydantic_settings import SettingsConfigDict

from gateway_shared.tier.settings import TierSettings


class FailureMode(StrEnum):
    """What policy does when Redis cannot be reached."""

    CLOSED = "closed"  # refuse with 503: no request goes unmetered
    OPEN = "open"  # admit unmetered, counted in a metric and logged once per interval


class PolicySettings(TierSettings):
    model_config = SettingsConfigDict(env_prefix="POLICY_", extra="ignore", frozen=True)

    port: int = 8081
    router_url: str = "http://127.0.0.1:8082"
    redis_url: SecretStr = Field(validation_alias=AliasChoices("redis_url", "REDIS_URL"))
    redis_timeout_seconds: float = 0.25
    redis_failure_mode: FailureMode = FailureMode.CLOSED
    # The sliding window of the per-minute limits. 60 s in any real deployment; tests
    # shorten it to observe many windows quickly.
    rate_window_seconds: float = Field(default=60.0, gt=0)
    # Longest a concurrency slot is held if its policy replica dies mid-request.
    lease_seconds: float = Field(default=900.0, gt=0)
    # Settlements that failed for want of Redis, kept for replay: at most this many per
    # process, each for at most this long (its idempotency marker outlives it).
    settle_queue_size: int = Field(default=10_000, ge=0)
    settle_keep_seconds: float = Field(default=600.0, gt=0)
    # Completion tokens reserved when a request sets no max_tokens and its plan no cap.
    default_completion_tokens: int = Field(default=1024, ge=0)
    # Seconds between reads of the prices the router publishes (policy.prices).
    prices_refresh_seconds: float = Field(default=1.0, gt=0)
    # The response cache's own Redis (allkeys-lru under a memory cap), never the state
    # Redis (noeviction). Unset: no plan's cache is used.
    cache_redis_url: SecretStr | None = Field(
        default=None, validation_alias=AliasChoices("cache_redis_url", "CACHE_REDIS_URL")
    )
    # The longest an entry is kept, whatever a plan's ttl_s says: entries hold prompts.
    cache_max_ttl_seconds: int = Field(default=86_400, gt=0)
    # Answers larger than this (as stored) are not cached.
    cache_max_entry_bytes: int = Field(default=1_048_576, gt=0)
