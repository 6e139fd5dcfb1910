"""Router settings (``ROUTER_*``)."""

from __future__ import annotations

from pathlib import Path

from pydantic import AliasChoices, Field, SecretStr
from pydantic_settings import SettingsConfigDict

from gateway_shared.tier.settings import TierSettings


class RouterSettings(TierSettings):
    model_config = SettingsConfigDict(env_prefix="ROUTER_", extra="ignore", frozen=True)

    port: int = 8082
    catalog_path: Path
    # Seconds between checks of the catalog file for changes; 0: only SIGHUP reloads.
    catalog_poll_seconds: float = Field(default=2.0, ge=0)
    # Background health checks of every deployment (docs/router.md).
    health_checks: bool = True
    # Where the router publishes each alias's prices for policy (router.prices); None:
    # not published, and budgeted keys are refused for lack of prices.
    redis_url: SecretStr | None = Field(
        default=None, validation_alias=AliasChoices("redis_url", "REDIS_URL")
    )
    prices_publish_seconds: float = Field(default=10.0, gt=0)
