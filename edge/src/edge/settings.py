"""Edge settings (``EDGE_*``), plus the secrets it shares with the other tiers."""

from __future__ import annotations

from pathlib import Path

from pydantic import AliasChoices, Field, SecretStr, model_validator
from pydantic_settings import SettingsConfigDict

from gateway_shared.tier.settings import TierSettings


class EdgeSettings(TierSettings):
    model_config = SettingsConfigDict(env_prefix="EDGE_", extra="ignore", frozen=True)

    port: int = 8080
    policy_url: str = "http://127.0.0.1:8081"
    redis_url: SecretStr = Field(validation_alias=AliasChoices("redis_url", "REDIS_URL"))
    redis_timeout_seconds: float = 0.25
    # The response cache's Redis (policy's), where a revoked key's entries are purged.
    cache_redis_url: SecretStr | None = Field(
        default=None, validation_alias=AliasChoices("cache_redis_url", "CACHE_REDIS_URL")
    )
    key_pepper: SecretStr = Field(
        validation_alias=AliasChoices("key_pepper", "GATEWAY_KEY_PEPPER"), min_length=16
    )
    # Set only while rotating the pepper: keys hashed with it keep working.
    key_pepper_previous: SecretStr | None = Field(
        default=None,
        validation_alias=AliasChoices("key_pepper_previous", "GATEWAY_KEY_PEPPER_PREVIOUS"),
        min_length=16,
    )
    # The registry comes inline (the Doppler secret) or from a file (development).
    key_registry: SecretStr | None = Field(
        default=None, validation_alias=AliasChoices("key_registry", "GATEWAY_KEY_REGISTRY")
    )
    key_registry_file: Path | None = Field(
        default=None,
        validation_alias=AliasChoices("key_registry_file", "GATEWAY_KEY_REGISTRY_FILE"),
    )
    # Upper bound on how long a revoked key keeps working at one edge replica.
    key_cache_seconds: float = 5.0
    # How often edge checks that Redis still holds the registry (and the file is unchanged).
    registry_check_seconds: float = 5.0
    max_body_bytes: int = 4 * 1024 * 1024
    max_header_bytes: int = 16 * 1024
    max_json_depth: int = 32
    max_messages: int = 2048
    max_n: int = 128
    max_tokens: int = 1_000_000

    @model_validator(mode="after")
    def _has_a_registry(self) -> EdgeSettings:
        if self.key_registry is None and self.key_registry_file is None:
            raise ValueError(
                "set GATEWAY_KEY_REGISTRY (or, in development, GATEWAY_KEY_REGISTRY_FILE)"
            )
        return self
