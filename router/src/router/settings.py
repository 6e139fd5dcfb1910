"""Router settings (``ROUTER_*``)."""

from __future__ import annotations

from pathlib import Path

from pydantic import Field
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
