"""Policy settings (``POLICY_*``)."""

from __future__ import annotations

from pydantic import AliasChoices, Field, SecretStr
from pydantic_settings import SettingsConfigDict

from gateway_shared.settings import TierSettings


class PolicySettings(TierSettings):
    model_config = SettingsConfigDict(env_prefix="POLICY_", extra="ignore", frozen=True)

    port: int = 8081
    router_url: str = "http://127.0.0.1:8082"
    redis_url: SecretStr = Field(validation_alias=AliasChoices("redis_url", "REDIS_URL"))
    redis_timeout_seconds: float = 0.25
