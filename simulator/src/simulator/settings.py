"""The simulator's settings, read from ``SIM_*`` environment variables."""

from __future__ import annotations

from dataclasses import replace
from typing import Annotated, Any

import orjson
from pydantic import Field, SecretStr, field_validator
from pydantic_settings import BaseSettings, NoDecode, SettingsConfigDict

from simulator.engine.profile import H100_LLAMA_8B, EngineProfile, SchedulingPolicy
from simulator.faults import (
    DelayMs,
    DisconnectAfter,
    ErrorRate,
    ErrorStatus,
    FaultConfig,
    OutputTokens,
    RetryAfter,
)


class SimulatorSettings(BaseSettings):
    """Start-time configuration. The fault fields seed :class:`FaultConfig`."""

    model_config = SettingsConfigDict(env_prefix="SIM_", extra="ignore")

    host: str = "127.0.0.1"
    port: Annotated[int, Field(ge=0, le=65535)] = 8090
    # SIM_MODELS: a JSON list or a comma-separated list of served model names.
    models: Annotated[list[str], NoDecode] = Field(
        default_factory=lambda: ["sim-model", "sim-embed"], min_length=1
    )
    embedding_dim: Annotated[int, Field(ge=1, le=65536)] = 16
    # When set, /v1/ routes require `Authorization: Bearer <api_key>`.
    api_key: SecretStr | None = None

    ttft_ms: DelayMs = 0.0
    itl_ms: DelayMs = 0.0
    output_tokens: OutputTokens = 16
    error_status: ErrorStatus = 503
    error_rate: ErrorRate = 0.0
    error_retry_after: RetryAfter = None
    hang: bool = False
    disconnect_after_tokens: DisconnectAfter = None
    malformed_stream: bool = False

    # The engine model (docs/simulator.md): off, every answer is timed by the fault
    # fields alone; on, by continuous batching on the profile (engine/profile.py), made
    # `engine_slowdown` times slower and given `engine_kv_blocks` blocks when set.
    engine: bool = False
    engine_slowdown: Annotated[float, Field(gt=0, le=10_000)] = 1.0
    engine_kv_blocks: Annotated[int | None, Field(ge=1)] = None
    engine_max_num_seqs: Annotated[int | None, Field(ge=1)] = None
    # vLLM's --scheduling-policy: a request's `priority` is refused unless "priority".
    scheduling_policy: SchedulingPolicy = SchedulingPolicy.FCFS
    # vLLM V1's default; in instant mode too, so repeated prefixes report cached tokens.
    prefix_caching: bool = True

    @field_validator("models", mode="before")
    @classmethod
    def _split_models(cls, value: Any) -> Any:
        if isinstance(value, str):
            text = value.strip()
            if text.startswith("["):
                return orjson.loads(text)
            return [name.strip() for name in text.split(",") if name.strip()]
        return value

    def engine_profile(self) -> EngineProfile:
        base = H100_LLAMA_8B.scaled(slowdown=self.engine_slowdown)
        return replace(
            base,
            num_gpu_blocks=self.engine_kv_blocks or base.num_gpu_blocks,
            max_num_seqs=self.engine_max_num_seqs or base.max_num_seqs,
            scheduling_policy=self.scheduling_policy,
            enable_prefix_caching=self.prefix_caching,
        )

    def faults(self) -> FaultConfig:
        """The fault configuration these settings start with."""
        return FaultConfig.model_validate(self.model_dump(include=set(FaultConfig.model_fields)))
