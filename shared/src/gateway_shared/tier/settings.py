"""What every tier's settings share, and loading them with errors that name, never show.

Each service has one pydantic-settings class, built inside its ``create_app`` so tests
pass overrides. Secrets are ``SecretStr`` fields without defaults, read from the
environment that Doppler fills (``doppler run -- ...``).
"""

from __future__ import annotations

from types import UnionType
from typing import Union, get_args, get_origin

from pydantic import AliasChoices, Field, SecretStr, ValidationError
from pydantic_core import ErrorDetails
from pydantic_settings import BaseSettings, SettingsConfigDict

from gateway_shared.wire.identity import MIN_SECRET_BYTES, IdentitySigner


class MissingSettings(SystemExit):
    """Startup stops here: what is missing or invalid is named, its value never shown."""


class TierSettings(BaseSettings):
    model_config = SettingsConfigDict(extra="ignore", frozen=True)

    host: str = "127.0.0.1"
    port: int = 8080
    log_level: str = "warning"
    # One JSON line per request (docs/observability.md), whatever the log level.
    access_log: bool = True
    # On SIGTERM: how long in-flight requests and streams may run before the process exits.
    graceful_seconds: int = Field(default=30, ge=0)
    internal_secret: SecretStr = Field(
        validation_alias=AliasChoices("internal_secret", "GATEWAY_INTERNAL_SECRET"),
        min_length=MIN_SECRET_BYTES,
    )
    # Set only while rotating the internal secret: identities it signed are still accepted.
    internal_secret_previous: SecretStr | None = Field(
        default=None,
        validation_alias=AliasChoices(
            "internal_secret_previous", "GATEWAY_INTERNAL_SECRET_PREVIOUS"
        ),
        min_length=MIN_SECRET_BYTES,
    )

    def identity_signer(self) -> IdentitySigner:
        previous = self.internal_secret_previous
        return IdentitySigner(
            self.internal_secret.get_secret_value().encode(),
            previous.get_secret_value().encode() if previous is not None else None,
        )


def env_name(settings_cls: type[BaseSettings], field: str) -> str:
    info = settings_cls.model_fields[field]
    alias = info.validation_alias
    if isinstance(alias, AliasChoices):
        names = [c for c in alias.choices if isinstance(c, str)]
        return names[-1]
    prefix = settings_cls.model_config.get("env_prefix", "")
    return f"{prefix}{field}".upper()


def _is_text(settings_cls: type[BaseSettings], field: str) -> bool:
    """A string or secret, optional or not (not a list of strings)."""
    annotation = settings_cls.model_fields[field].annotation
    choices = get_args(annotation) if get_origin(annotation) in (Union, UnionType) else ()
    return any(t in (str, SecretStr) for t in (annotation, *choices))


def _what_is_wrong(error: ErrorDetails, text: bool) -> str:
    if error["type"] == "missing":
        return "is not set"
    # pydantic counts a secret's length in "items"; an operator reads characters.
    if text and error["type"] in ("too_short", "string_too_short"):
        return f"must be at least {error.get('ctx', {})['min_length']} characters"
    return f"is invalid: {error['msg']}"


def load[S: BaseSettings](settings_cls: type[S]) -> S:
    try:
        return settings_cls()
    except ValidationError as exc:
        problems = []
        for error in exc.errors(include_input=False, include_url=False):
            if not error["loc"]:  # a rule across fields: its message names them
                problems.append(str(error["msg"]).removeprefix("Value error, "))
                continue
            field = str(error["loc"][0])
            known = field in settings_cls.model_fields
            name = env_name(settings_cls, field) if known else field
            problems.append(
                f"{name} {_what_is_wrong(error, known and _is_text(settings_cls, field))}"
            )
        raise MissingSettings(
            f"{settings_cls.__name__}: " + "; ".join(problems) + " (secrets come from Doppler)"
        ) from None
