"""Settings, read from an environment mapping that the caller passes in."""

from __future__ import annotations

import os
from collections.abc import Mapping
from pathlib import Path

from pydantic import Field, SecretStr
from pydantic_settings import BaseSettings, PydanticBaseSettingsSource, SettingsConfigDict

from threadline.kit.crypto import SecretBox

DEFAULT_DEV_SECRET = "threadline-dev-secret-change-me"


class Settings(BaseSettings):
    """Runtime configuration. Every field maps to a `THREADLINE_<NAME>` variable."""

    model_config = SettingsConfigDict(env_prefix="THREADLINE_", extra="ignore")

    database_url: str = Field(
        default_factory=lambda: f"sqlite+aiosqlite:///{Path.cwd() / 'threadline.db'}",
        description="SQLAlchemy async URL; SQLite file in the working directory by default.",
    )
    secret_key: SecretStr = Field(
        default=SecretStr(DEFAULT_DEV_SECRET),
        description="Encrypts channel secrets at rest. Set a long random value in production.",
    )
    log_level: str = "INFO"
    dispatch_lease_seconds: float = Field(
        default=30.0, gt=0, description="How long a dispatcher owns a channel between renewals."
    )
    reconcile_grace_seconds: float = Field(
        default=20.0, gt=0, description="How long an unanswered send waits for its status webhook."
    )
    dispatch_batch: int = Field(default=500, ge=1, le=5000)
    ingest_batch: int = Field(
        default=500,
        ge=1,
        le=5000,
        description="Platform events a worker claims per round (one transaction each).",
    )
    rate_card: str | None = Field(
        default=None, description="CSV rate card replacing the shipped sample (see pricing.md)"
    )
    default_country: str = Field(
        default="US", description="Region assumed for phone numbers written without a + prefix."
    )

    @classmethod
    def settings_customise_sources(
        cls,
        settings_cls: type[BaseSettings],
        init_settings: PydanticBaseSettingsSource,
        env_settings: PydanticBaseSettingsSource,
        dotenv_settings: PydanticBaseSettingsSource,
        file_secret_settings: PydanticBaseSettingsSource,
    ) -> tuple[PydanticBaseSettingsSource, ...]:
        # The environment is passed in explicitly (see from_env), never read behind our back.
        return (init_settings,)

    def secret_box(self) -> SecretBox:
        """Seals channel secrets at rest with THREADLINE_SECRET_KEY."""
        return SecretBox(self.secret_key.get_secret_value())

    @classmethod
    def from_env(cls, env: Mapping[str, str] | None = None) -> Settings:
        """Build settings from `env` (defaults to the process environment)."""
        source = os.environ if env is None else env
        values = {
            key[len("THREADLINE_") :].lower(): value
            for key, value in source.items()
            if key.startswith("THREADLINE_")
        }
        return cls.model_validate(values)


def normalise_database_url(url: str) -> str:
    """Accept plain `sqlite:///` and `postgresql://` URLs and pick the async driver."""
    if url.startswith("sqlite:///"):
        return "sqlite+aiosqlite:///" + url[len("sqlite:///") :]
    if url.startswith(("postgresql://", "postgres://")):
        return "postgresql+asyncpg://" + url.split("://", 1)[1]
    return url
