"""Latency and fault configuration: what the simulator does to the requests it serves.

The configuration starts from :class:`~simulator.settings.SimulatorSettings` (``SIM_*``
environment) and can be changed while running through ``PUT /admin/config`` with a JSON
object holding any subset of the fields below (a merge: absent fields keep their value,
``null`` clears a nullable one). ``POST /admin/reset`` restores the start-time values.

Fields:

- ``ttft_ms`` / ``itl_ms``: delay before the first content token / between tokens.
- ``output_tokens``: length of the simulated answer (cut shorter by ``max_tokens``).
- ``error_rate`` (0..1) and ``error_status``: answer that share of ``/v1/`` inference
  requests with ``error_status`` in OpenAI's error envelope; ``error_retry_after`` (seconds)
  adds a ``Retry-After`` header to those answers.
- ``hang``: accept the request and send nothing until the client goes away.
- ``disconnect_after_tokens``: drop the connection after that many content chunks of a
  stream (no ``data: [DONE]``, no chunked-encoding terminator); a non-streaming answer is
  cut after half of its body.
- ``malformed_stream``: put a non-JSON ``data:`` line in the middle of each stream; a
  non-streaming answer gets a body that is not JSON.
- ``metrics_down``: ``/metrics`` answers 503 while requests are still served (a replica
  whose metrics stop, for load-aware routing to notice).
- ``prompt_token_factor`` (1..8): report this many times the prompt tokens the
  simulator counts (characters / 4), rounded up: a provider whose tokenizer splits the
  text finer, as BPE tokenizers do code and non-Latin scripts. It makes the gateway's
  prompt estimate an undercount, as it is for such prompts.

A :class:`FaultConfig` is immutable: a change replaces the whole object, so a request
reads one consistent configuration for its whole life.
"""

from __future__ import annotations

from typing import Annotated, Any

from pydantic import BaseModel, ConfigDict, Field, ValidationError

from gateway_shared.errors import GatewayError

# Field types shared with SimulatorSettings, so both validate the same way.
DelayMs = Annotated[float, Field(ge=0, le=3_600_000)]
OutputTokens = Annotated[int, Field(ge=1, le=1_000_000)]
ErrorStatus = Annotated[int, Field(ge=400, le=599)]
ErrorRate = Annotated[float, Field(ge=0.0, le=1.0)]
RetryAfter = Annotated[float | None, Field(ge=0)]
DisconnectAfter = Annotated[int | None, Field(ge=0)]


class FaultConfig(BaseModel):
    """The run-time configuration (see the module docstring for each field)."""

    model_config = ConfigDict(frozen=True, extra="forbid", strict=True)

    ttft_ms: DelayMs = 0.0
    itl_ms: DelayMs = 0.0
    output_tokens: OutputTokens = 16
    error_status: ErrorStatus = 503
    error_rate: ErrorRate = 0.0
    error_retry_after: RetryAfter = None
    hang: bool = False
    disconnect_after_tokens: DisconnectAfter = None
    malformed_stream: bool = False
    metrics_down: bool = False
    prompt_token_factor: float = Field(default=1.0, ge=1.0, le=8.0)

    @property
    def ttft_s(self) -> float:
        return self.ttft_ms / 1000.0

    @property
    def itl_s(self) -> float:
        return self.itl_ms / 1000.0

    def merged(self, patch: Any) -> FaultConfig:
        """A new configuration: this one with ``patch`` (a JSON object) applied.

        Raises :class:`GatewayError` (400) when the patch is not an object, names an
        unknown field or holds an invalid value.
        """
        if not isinstance(patch, dict):
            raise GatewayError("The configuration must be a JSON object.", code="invalid_value")
        try:
            return FaultConfig.model_validate(self.model_dump() | patch)
        except ValidationError as exc:
            first = exc.errors()[0]
            param = ".".join(str(p) for p in first["loc"]) or None
            raise GatewayError(
                f"Invalid value for '{param}': {first['msg']}",
                param=param,
                code="invalid_value",
            ) from None

    def retry_after_header(self) -> dict[str, str] | None:
        if self.error_retry_after is None:
            return None
        seconds = self.error_retry_after
        value = str(int(seconds)) if float(seconds).is_integer() else f"{seconds:g}"
        return {"retry-after": value}
