"""The model catalog: each public model alias, the deployments that serve it, and the
routing policy (retries, circuit breaker, health checks) applied to them.

Loaded from a YAML file and validated whole, at start and on every reload; a catalog with
any error is refused with a message naming the file, the alias and the field. The format
is documented in docs/router.md; config/catalog.example.yaml is a complete example.
"""

from __future__ import annotations

import hashlib
import os
from enum import StrEnum
from pathlib import Path
from typing import Literal
from urllib.parse import urlsplit, urlunsplit

import yaml
from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator, model_validator
from pydantic_core import ErrorDetails

from gateway_shared.prices import Prices
from gateway_shared.tier.startup import ConfigurationError


class CatalogError(ConfigurationError):
    """The catalog file cannot be used; the message says where and why."""


class Strategy(StrEnum):
    """How a deployment is chosen within one priority group of an alias."""

    WEIGHTED = "weighted"  # weighted random
    ROUND_ROBIN = "round_robin"  # smooth weighted round-robin
    LEAST_IN_FLIGHT = "least_in_flight"  # fewest requests in flight per unit of weight
    LATENCY = "latency"  # lowest EWMA time to first token x (in flight + 1) / weight
    # the engines' own queues and KV caches, and prefix affinity (routing/load_aware.py)
    LOAD_AWARE = "load_aware"


class NativeApi(StrEnum):
    """A public API a deployment may serve itself rather than through chat completions."""

    RESPONSES = "responses"
    MESSAGES = "messages"  # Anthropic's Messages API


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class Timeouts(_Strict):
    """Per-deployment time limits, in seconds."""

    connect: float = Field(default=2.0, gt=0)
    # The first token of an answer (streams) must arrive this long after the request left;
    # until then the request may still fail over to another deployment.
    first_token: float = Field(default=30.0, gt=0)
    # Streams: longest silence between two chunks once the answer has started.
    idle: float = Field(default=30.0, gt=0)
    # The whole request, streams included.
    total: float = Field(default=600.0, gt=0)
    # Embeddings, which no provider streams: the whole answer, within this.
    embeddings: float = Field(default=60.0, gt=0)

    @model_validator(mode="after")
    def _ordered(self) -> Timeouts:
        if self.first_token > self.total:
            raise ValueError("first_token must not exceed total")
        if self.connect > self.total:
            raise ValueError("connect must not exceed total")
        return self


class Deployment(_Strict):
    name: str = Field(pattern=r"^[A-Za-z0-9_.-]+$")
    provider: str
    base_url: str = Field(pattern=r"^https?://")
    model: str = Field(min_length=1)
    api_key_env: str | None = Field(default=None, pattern=r"^[A-Z_][A-Z0-9_]*$")
    weight: float = Field(default=1.0, gt=0)
    # Lower numbers are tried first; higher groups are fallbacks.
    priority: int = Field(default=0, ge=0)
    # Requests in flight at most; a deployment at its cap is skipped. None: no cap.
    max_concurrency: int | None = Field(default=None, ge=1)
    # Seconds between active health checks; None: the adapter's default; 0: never.
    health_interval: float | None = Field(default=None, ge=0)
    # Whole (non-streamed) answers are read from the provider as streams, so the first-
    # token timeout and failover apply to them too; false for a provider that cannot
    # stream: its whole answers are bounded by ``timeouts.total`` only.
    can_stream: bool = True
    # The public APIs beyond chat completions, completions and embeddings that the
    # deployment serves itself ("responses", "messages"); the others are translated to
    # chat for it. None: its provider type's default (OpenAI serves responses, Anthropic
    # messages; vLLM, before the versions that added /v1/responses and /v1/messages,
    # neither).
    native_apis: tuple[NativeApi, ...] | None = None
    # The server orders requests by the key's plan priority (vLLM started with
    # `--scheduling-policy priority`, which refuses a priority otherwise).
    priority_scheduling: bool = False
    # "dns": the base URL's host names every replica (a Kubernetes headless Service):
    # each address it resolves to is a deployment of its own (routing/discovery.py).
    discovery: Literal["dns"] | None = None
    timeouts: Timeouts = Timeouts()
    # USD per million tokens; None: the cost of its answers is unknown (never $0).
    prices: Prices | None = None

    @field_validator("base_url")
    @classmethod
    def _no_secrets_in_url(cls, value: str) -> str:
        parts = urlsplit(value)
        if parts.username or parts.password:
            raise ValueError("credentials in a URL are not allowed; use api_key_env")
        if parts.query or parts.fragment:
            raise ValueError("the base URL must not carry a query string or fragment")
        if not parts.hostname:
            raise ValueError("the base URL has no host")
        return value

    @model_validator(mode="after")
    def _discoverable(self) -> Deployment:
        if self.discovery is not None and urlsplit(self.base_url).scheme != "http":
            # Each replica is called at its address, which no certificate names.
            raise ValueError("discovery needs an http:// base URL (inside the cluster)")
        return self

    @property
    def host(self) -> str:
        host = urlsplit(self.base_url).hostname
        assert host is not None  # checked by the validator
        return host

    def at_address(self, address: str) -> Deployment:
        """One discovered replica: this deployment at ``address``, named after it."""
        parts = urlsplit(self.base_url)
        host = f"[{address}]" if ":" in address else address
        netloc = host if parts.port is None else f"{host}:{parts.port}"
        return self.model_copy(
            update={
                # "@" is outside catalog names: a replica's name is never another's.
                "name": f"{self.name}@{address}",
                "base_url": urlunsplit(parts._replace(netloc=netloc)),
                "discovery": None,
            }
        )

    def same_endpoint(self, other: Deployment) -> bool:
        """True when ``other`` is the same upstream, so its runtime state carries over."""
        return (self.name, self.provider, self.base_url, self.model) == (
            other.name,
            other.provider,
            other.base_url,
            other.model,
        )


class ModelEntry(_Strict):
    alias: str = Field(min_length=1)
    strategy: Strategy = Strategy.WEIGHTED
    owned_by: str = "gateway"
    # The saturation guard (routing/saturation.py): when every deployment's engine has
    # at least this many requests waiting, shed the lowest priorities at once. None: off.
    shed_queue_depth: int | None = Field(default=None, ge=1)
    deployments: tuple[Deployment, ...] = Field(min_length=1)

    @property
    def reads_load(self) -> bool:
        """Whether routing this alias needs its engines' load (their /metrics)."""
        return self.strategy is Strategy.LOAD_AWARE or self.shed_queue_depth is not None

    def highest_prices(self) -> Prices:
        """The most a request to this alias can be charged per token, on any deployment."""
        return Prices.highest(d.prices for d in self.deployments)


class RetryPolicy(_Strict):
    """Retries before the first byte reached the client (never after)."""

    # Attempts per request, the first one included.
    max_attempts: int = Field(default=3, ge=1, le=10)
    # No attempt starts, and no backoff ends, later than this after the request arrived.
    budget_seconds: float = Field(default=30.0, gt=0)
    # Exponential backoff with full jitter when the same deployment is tried again.
    backoff_initial_seconds: float = Field(default=0.1, ge=0)
    backoff_max_seconds: float = Field(default=2.0, ge=0)
    # A provider's Retry-After is honoured (the deployment is skipped meanwhile) up to this.
    max_retry_after_seconds: float = Field(default=30.0, ge=0)


class BreakerPolicy(_Strict):
    """When a deployment's circuit breaker opens, and when it is tried again."""

    # Opens after this many failures in a row...
    consecutive_failures: int = Field(default=5, ge=1)
    # ...or when this share of the calls in the window failed (with at least min_calls).
    failure_ratio: float = Field(default=0.5, gt=0, le=1)
    window_seconds: float = Field(default=30.0, gt=0)
    min_calls: int = Field(default=20, ge=1)
    # Open this long, then half-open: one probe request decides.
    cooldown_seconds: float = Field(default=10.0, gt=0)
    # When every deployment that could take a request is out only because its breaker
    # is open, send the request to one of them anyway rather than refuse it: a breaker
    # steers traffic away while another deployment can serve, but never takes a model
    # out of service by itself (Envoy's "panic" routing). False: refuse with 503.
    panic_routing: bool = True


class HealthPolicy(_Strict):
    timeout_seconds: float = Field(default=2.0, gt=0)
    # Failed checks in a row that mark a deployment unhealthy and open its breaker.
    unhealthy_after: int = Field(default=2, ge=1)


class LoadPolicy(_Strict):
    """Reading engines' load, for ``load_aware`` aliases and the saturation guard."""

    # How often each engine's metrics are read.
    scrape_seconds: float = Field(default=1.5, ge=0.1, le=60)
    # A reading older than this is not trusted: the alias balances by in-flight alone.
    stale_seconds: float = Field(default=5.0, gt=0)
    timeout_seconds: float = Field(default=1.0, gt=0)
    # Consistent hashing with bounded loads: a prefix stays on its home while that one's
    # backlog - requests it has not started - (with this request) is at most this many
    # times the average, or at most `affinity_floor`: a request that waits briefly
    # behind a queue costs less than the prefill a move costs, and each move also
    # evicts another prefix where it lands.
    affinity_bound: float = Field(default=1.5, ge=1.0)
    affinity_floor: int = Field(default=2, ge=1)
    # A prefix past its home's bound where no engine within the bound has room for it
    # in its KV cache stays home until the home's backlog (with this request) passes
    # this: a spill there evicts prefixes that engine's own requests reuse, and each
    # of them pays a prefill in turn (routing/load_aware.py).
    evicting_spill_backlog: int = Field(default=8, ge=1)
    # A prefix not seen for this long loses its home (routing/placement.py), freeing its
    # share of the engines for the prefixes in use.
    affinity_window_seconds: float = Field(default=60.0, gt=0)


class DiscoveryPolicy(_Strict):
    """Resolving the hosts of ``discovery: dns`` deployments, in the background."""

    interval_seconds: float = Field(default=5.0, ge=0.5, le=300)
    timeout_seconds: float = Field(default=2.0, gt=0)


class Routing(_Strict):
    retry: RetryPolicy = RetryPolicy()
    breaker: BreakerPolicy = BreakerPolicy()
    health: HealthPolicy = HealthPolicy()
    load: LoadPolicy = LoadPolicy()
    discovery: DiscoveryPolicy = DiscoveryPolicy()


class Catalog(_Strict):
    routing: Routing = Routing()
    models: tuple[ModelEntry, ...] = Field(min_length=1)

    @model_validator(mode="after")
    def _unique(self) -> Catalog:
        aliases = [m.alias for m in self.models]
        if len(set(aliases)) != len(aliases):
            duplicates = sorted({a for a in aliases if aliases.count(a) > 1})
            raise ValueError(f"duplicate model aliases: {duplicates}")
        names = [d.name for m in self.models for d in m.deployments]
        if len(set(names)) != len(names):
            duplicates = sorted({n for n in names if names.count(n) > 1})
            raise ValueError(f"deployment names must be unique across the catalog: {duplicates}")
        return self

    def get(self, alias: str) -> ModelEntry | None:
        return next((m for m in self.models if m.alias == alias), None)

    def deployments(self) -> list[Deployment]:
        return [d for m in self.models for d in m.deployments]


def digest(text: bytes) -> str:
    """The catalog's fingerprint, shown on the router's status page."""
    return hashlib.sha256(text).hexdigest()


def _holds_another(loc: tuple[int | str, ...], locs: list[tuple[int | str, ...]]) -> bool:
    """Whether an error at ``loc`` is about a container with errors of its own inside: a
    deployment with a typo also leaves its list one item short, which is no news."""
    return any(len(other) > len(loc) and other[: len(loc)] == loc for other in locs)


def _message(error: ErrorDetails) -> str:
    if error["type"] == "extra_forbidden":
        return "unknown field (docs/router.md lists the fields)"
    return error["msg"]


def parse_catalog(text: bytes, source: Path, known_providers: set[str]) -> Catalog:
    """Validate a catalog's text; raises :class:`CatalogError` naming ``source``."""
    try:
        raw = yaml.safe_load(text)
    except yaml.YAMLError as exc:
        raise CatalogError(f"invalid model catalog {source}: not valid YAML ({exc})") from None
    try:
        catalog = Catalog.model_validate(raw)
    except ValidationError as exc:
        errors = exc.errors(include_input=False, include_url=False)
        problems = [
            f"{'.'.join(str(p) for p in error['loc']) or '(top level)'}: {_message(error)}"
            for error in errors
            if not _holds_another(error["loc"], [e["loc"] for e in errors])
        ]
        raise CatalogError(f"invalid model catalog {source}: " + "; ".join(problems)) from None
    for deployment in catalog.deployments():
        if deployment.provider not in known_providers:
            raise CatalogError(
                f"invalid model catalog {source}: deployment {deployment.name!r} has unknown "
                f"provider {deployment.provider!r} (known: {', '.join(sorted(known_providers))})"
            )
        if deployment.api_key_env and not os.environ.get(deployment.api_key_env):
            raise CatalogError(
                f"invalid model catalog {source}: deployment {deployment.name!r} needs "
                f"{deployment.api_key_env}, which is not set (secrets come from Doppler)"
            )
    return catalog


def read_catalog(path: Path) -> bytes:
    try:
        return path.read_bytes()
    except OSError as exc:
        raise CatalogError(f"cannot read model catalog {path}: {exc.strerror or exc}") from None


def load_catalog(path: Path, known_providers: set[str]) -> Catalog:
    return parse_catalog(read_catalog(path), path, known_providers)
