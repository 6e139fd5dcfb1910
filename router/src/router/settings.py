"""Router settings (``ROUTER_*``)."""

from __future__ import annotations

from pathlib import Path

from pydantic_settings import SettingsConfigDict

from gateway_shared.settings import TierSettings


class RouterSettings(TierSettings):
    model_config = SettingsConfigDict(env_prefix="ROUTER_", extra="ignore", frozen=True)

    port: int = 8082
    catalog_path: Path
