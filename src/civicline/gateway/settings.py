"""All configuration, from ``CIVICLINE_*`` environment variables or a ``.env`` file."""

from __future__ import annotations

import secrets
from functools import cached_property
from pathlib import Path
from zoneinfo import ZoneInfo

from pydantic import Field, SecretStr, field_validator
from pydantic_settings import BaseSettings, SettingsConfigDict

from civicline.nlu.training_data import default_data_path
from civicline.storage.taxonomy_file import DEFAULT_TAXONOMY


class Settings(BaseSettings):
    model_config = SettingsConfigDict(
        env_prefix="CIVICLINE_", env_file=".env", extra="ignore", frozen=True
    )

    var_dir: Path = Path("var")
    database_url: str | None = Field(
        default=None, description="SQLAlchemy async URL; default: a SQLite file in var_dir"
    )
    redis_url: str | None = Field(
        default=None, description="redis:// or unix:// URL; default: an embedded Redis server"
    )
    host: str = "127.0.0.1"
    port: int = 8000
    public_base_url: str = "http://127.0.0.1:8000"
    secret_key: SecretStr | None = Field(
        default=None, description="signs staff tokens; default: generated once into var_dir"
    )
    token_ttl_seconds: int = 8 * 3600
    taxonomy_path: Path = DEFAULT_TAXONOMY
    nlu_data_path: Path = Field(default_factory=default_data_path)
    model_dir: Path | None = Field(
        default=None, description="where trained NLU models are cached; default: var_dir/models"
    )
    nlu_min_confidence: float = Field(default=0.4, ge=0, le=1)
    rasa_url: str | None = Field(
        default=None, description="Rasa server (rasa run --enable-api); unset: local NLU only"
    )
    rasa_token: SecretStr | None = Field(default=None, description="Rasa's --auth-token")
    rasa_timeout_seconds: float = Field(default=2.0, gt=0)
    city_timezone: str = "Asia/Shanghai"
    webchat_max_length: int = 4000
    webchat_rate_limit_per_minute: int = 20
    max_body_bytes: int = 64 * 1024
    sweep_interval_seconds: int = 15
    sweep_grace_seconds: int = 30
    delivery_max_attempts: int = 5
    worker_concurrency: int = 10
    db_pool_size: int = 20
    log_level: str = "INFO"

    # SMS over Twilio: on when the account sid, auth token and sending number are all set.
    twilio_account_sid: str | None = None
    twilio_auth_token: SecretStr | None = None
    twilio_from_number: str | None = Field(default=None, description="E.164 sending number")
    twilio_api_base_url: str | None = Field(
        default=None, description="talk to this base URL instead of https://api.twilio.com"
    )
    sms_default_region: str = Field(
        default="CN", description="region for phone numbers written without a country code"
    )

    @field_validator("database_url", "redis_url", "rasa_url", "twilio_api_base_url", mode="before")
    @classmethod
    def _empty_is_unset(cls, value: object) -> object:
        """An empty variable (``CIVICLINE_RASA_URL=``) means the default, as in compose files."""
        return None if value == "" else value

    @property
    def sms_enabled(self) -> bool:
        return bool(self.twilio_account_sid and self.twilio_auth_token and self.twilio_from_number)

    @property
    def db_url(self) -> str:
        return (
            self.database_url or f"sqlite+aiosqlite:///{(self.var_dir / 'civicline.db').resolve()}"
        )

    @property
    def timezone(self) -> ZoneInfo:
        return ZoneInfo(self.city_timezone)

    @cached_property
    def signing_key(self) -> bytes:
        if self.secret_key is not None:
            return self.secret_key.get_secret_value().encode()
        path = self.var_dir / "secret_key"
        if not path.exists():
            path.parent.mkdir(parents=True, exist_ok=True)
            path.write_text(secrets.token_urlsafe(48))
            path.chmod(0o600)
        return path.read_text().strip().encode()
