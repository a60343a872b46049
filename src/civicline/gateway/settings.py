"""All configuration, from ``CIVICLINE_*`` environment variables or a ``.env`` file."""

from __future__ import annotations

import re
import secrets
from datetime import timedelta
from functools import cached_property
from pathlib import Path
from typing import Literal
from zoneinfo import ZoneInfo

from pydantic import Field, SecretStr, field_validator, model_validator
from pydantic_settings import BaseSettings, SettingsConfigDict

from civicline.domain.claims import LockoutPolicy
from civicline.domain.incidents import IncidentPolicy
from civicline.gateway.proxies import Network, networks
from civicline.handlers.surge import SurgePolicy
from civicline.nlu.training_data import default_data_path, default_training_dir
from civicline.storage.calendar_file import DEFAULT_HOLIDAYS
from civicline.storage.mailboxes_file import DEFAULT_MAILBOXES
from civicline.storage.rota_file import DEFAULT_ROTA
from civicline.storage.taxonomy_file import DEFAULT_TAXONOMY
from civicline.storage.units_file import DEFAULT_UNITS

TELEGRAM_API = "https://api.telegram.org"
_TELEGRAM_TOKEN = re.compile(r"[0-9]+:[A-Za-z0-9_-]+")
_TELEGRAM_SECRET = re.compile(r"[A-Za-z0-9_-]{1,256}")


class Settings(BaseSettings):
    model_config = SettingsConfigDict(
        env_prefix="CIVICLINE_",
        env_file=".env",
        extra="ignore",
        frozen=True,
        # A validation error would otherwise print every input, tokens and passwords too.
        hide_input_in_errors=True,
    )

    var_dir: Path = Path("var")
    database_url: str | None = Field(
        default=None, description="SQLAlchemy async URL; default: a SQLite file in var_dir"
    )
    redis_url: str | None = Field(
        default=None, description="redis:// or unix:// URL; default: an embedded Redis server"
    )
    host: str = "127.0.0.1"
    trusted_proxies: str = Field(
        default="",
        description="reverse proxies whose X-Forwarded-For/-Proto are believed: comma-separated "
        "addresses or networks (e.g. 127.0.0.1,10.0.0.0/8); default none",
    )
    port: int = 8000
    public_base_url: str = "http://127.0.0.1:8000"
    secret_key: SecretStr | None = Field(
        default=None, description="signs staff tokens; default: generated once into var_dir"
    )
    token_ttl_seconds: int = 8 * 3600
    # The staff console: sessions last token_ttl_seconds. Signing in (console and API token
    # alike) locks a name after this many failures, and a client address after the second.
    console_lockout_failures: int = Field(default=5, ge=1)
    console_lockout_client_failures: int = Field(default=20, ge=1)
    console_lockout_minutes: int = Field(default=15, ge=1)
    console_claim_minutes: int = Field(default=15, ge=1)
    console_poll_seconds: int = Field(default=5, ge=1, description="live updates of the pages")
    taxonomy_path: Path = DEFAULT_TAXONOMY
    units_path: Path = DEFAULT_UNITS  # the city's units (city, counties, townships, villages)
    holidays_path: Path = DEFAULT_HOLIDAYS  # the working calendar: holidays, make-up days
    rota_path: Path = DEFAULT_ROTA  # reception venues, their days and leaders (domain.rota)
    # Incidents: reports of one event within this many hours become one case; 0 turns it off.
    incident_window_hours: float = Field(default=6.0, ge=0, le=168)
    # Early warning: a category in a district with at least this many reports in the last
    # hour, and this many times its usual hourly rate of the week before.
    surge_min_reports: int = Field(default=10, ge=1)
    surge_factor: float = Field(default=3.0, ge=1.0)
    nlu_data_path: Path = Field(default_factory=default_data_path)
    nlu_training_dir: Path = Field(
        default_factory=default_training_dir,
        description="the training files (one per category, with sub-categories, their "
        "departments and examples); their sub-categories join the taxonomy's",
    )
    gc_freeze: bool = Field(
        default=True,
        description="after start-up, move what it built out of the garbage collector's sight "
        "(bootstrap.freeze_startup_objects); the test suite turns it off: it opens services "
        "hundreds of times in one process, and each freeze's full collection walks its heap",
    )
    model_dir: Path | None = Field(
        default=None, description="where trained NLU models are cached; default: var_dir/models"
    )
    nlu_min_confidence: float = Field(
        default=0.6,
        ge=0,
        le=1,
        description="below it a complaint goes to triage: the local model's probabilities are "
        "calibrated, and on training sub-categories held out whole about 9 % of complaints "
        "are routed wrong at 0.6 (16 % at 0.4)",
    )
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
    worker_concurrency: int = 32  # jobs at once; their classifications share one pass
    # Plain complaints on web chat and SMS opened many at once (``bots.batched``); the worker
    # then runs at least two batches' worth of jobs at once.
    worker_batch: bool = True
    worker_batch_size: int = Field(default=64, ge=1, le=512)
    # A job running longer is cancelled (its work stays unfinished for the sweeper). arq marks a
    # running job for this plus 10 s, so a job in flight when its worker dies runs again on
    # another worker that long after it started.
    job_timeout_seconds: int = Field(default=30, ge=5, le=600)
    db_pool_size: int = 20
    log_level: str = "INFO"
    metrics_token: SecretStr | None = Field(
        default=None, description="GET /metrics wants it as a bearer token; unset: loopback only"
    )
    # Cases open this many calendar days count as backlog (积案): GET /api/v1/backlog.
    backlog_min_age_days: int = Field(default=60, ge=0, le=3650)

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
    # The hotline's voice line over the same Twilio account (channels.voice).
    voice_sms_receipts: bool = Field(
        default=True, description="text the case number to voice callers (they may opt out)"
    )
    voice_language: Literal["auto", "zh", "en"] = Field(
        default="auto", description="auto: Chinese for +86 callers, English for the others"
    )
    voice_tts_zh: str | None = Field(default=None, description="<Say> voice, e.g. Polly.Zhiyu")
    voice_tts_en: str | None = Field(default=None, description="<Say> voice, e.g. Polly.Joanna")

    # Telegram: on when the bot token is set (then the webhook secret is required).
    telegram_bot_token: SecretStr | None = Field(default=None, description="from @BotFather")
    telegram_webhook_secret: SecretStr | None = Field(
        default=None,
        description="X-Telegram-Bot-Api-Secret-Token: 1-256 of A-Z a-z 0-9 _ -",
    )
    telegram_api_url: str = Field(
        default=TELEGRAM_API, description="Bot API base URL (a local Bot API server or a fake)"
    )
    telegram_webhook_url: str | None = Field(
        default=None,
        description="public URL Telegram posts updates to; default: public_base_url + path",
    )

    # Open311 GeoReport v2 under /open311/v2: filing (POST requests) needs one of the keys.
    open311_api_keys: SecretStr | None = Field(
        default=None, description="comma-separated API keys; unset: nobody may file requests"
    )
    open311_jurisdiction_id: str | None = Field(
        default=None, description="e.g. the city's domain; requests naming another get 404"
    )
    open311_contact: str = "12345 市民服务热线 / 12345 Mayor Hotline"
    open311_key_service: str = "API keys are issued by the 12345 hotline centre on request."

    # The public board (阳光信访) at /board.
    board_review: bool = Field(
        default=False, description="a supervisor approves each case before it is first published"
    )
    board_search_per_minute: int = Field(
        default=30, ge=1, description="board searches per client address per minute"
    )
    board_cache_seconds: int = Field(
        default=60, ge=0, le=86400, description="how long browsers and proxies keep a board page"
    )

    # Letters (信): the mailbox web form, e-mail over IMAP/SMTP, paper letters.
    mailboxes_path: Path = DEFAULT_MAILBOXES  # whom letters may be written to
    letter_file_max_bytes: int = Field(default=10_000_000, ge=1, description="per attachment")
    letter_files_max: int = Field(default=5, ge=0, le=20, description="attachments per letter")
    mailbox_rate_limit_per_hour: int = Field(
        default=5, ge=1, description="form letters per client address and per phone"
    )
    mailbox_query_rate_limit_per_hour: int = Field(
        default=20, ge=1, description="query-page look-ups per client address"
    )
    # E-mail: on when the IMAP host is set (the SMTP host too, for answers).
    imap_host: str | None = None
    imap_port: int = 993
    imap_tls: bool = Field(default=True, description="implicit TLS; false only for localhost")
    imap_user: str | None = None
    imap_password: SecretStr | None = None
    imap_folder: str = "INBOX"
    imap_poll_seconds: float = Field(default=60.0, gt=0, description="when IDLE is missing")
    mail_max_bytes: int = Field(default=25_000_000, ge=1, description="larger: headers only")
    mail_reader: bool = Field(
        default=True, description="read the mailbox in this worker (one reader is enough)"
    )
    smtp_host: str | None = None
    smtp_port: int = 587
    smtp_tls: Literal["ssl", "starttls", "none"] = "starttls"
    smtp_user: str | None = None
    smtp_password: SecretStr | None = None
    mail_from_address: str | None = Field(default=None, description="default: imap_user")
    mail_from_name: str = "市长信箱"

    @field_validator(
        "database_url",
        "redis_url",
        "rasa_url",
        "twilio_api_base_url",
        "telegram_bot_token",
        "telegram_webhook_secret",
        "telegram_webhook_url",
        "open311_api_keys",
        "open311_jurisdiction_id",
        "metrics_token",
        "imap_host",
        "imap_user",
        "imap_password",
        "smtp_host",
        "smtp_user",
        "smtp_password",
        "mail_from_address",
        mode="before",
    )
    @classmethod
    def _empty_is_unset(cls, value: object) -> object:
        """An empty variable (``CIVICLINE_RASA_URL=``) means the default, as in compose files."""
        return None if value == "" else value

    @field_validator("trusted_proxies")
    @classmethod
    def _proxies_are_networks(cls, value: str) -> str:
        networks(value)  # a wrong entry stops the start, naming it
        return value

    @field_validator("telegram_api_url", mode="before")
    @classmethod
    def _empty_is_telegram(cls, value: object) -> object:
        return TELEGRAM_API if value in ("", None) else value

    @model_validator(mode="after")
    def _telegram_needs_a_secret(self) -> Settings:
        """Refuse to start a Telegram bot whose webhook anybody could post to."""
        if self.telegram_bot_token is None:
            return self
        if not _TELEGRAM_TOKEN.fullmatch(self.telegram_bot_token.get_secret_value()):
            raise ValueError(
                "CIVICLINE_TELEGRAM_BOT_TOKEN does not look like a bot token (<bot id>:<secret>)"
            )
        if self.telegram_webhook_secret is None:
            raise ValueError(
                "CIVICLINE_TELEGRAM_WEBHOOK_SECRET is required when CIVICLINE_TELEGRAM_BOT_TOKEN "
                "is set: Telegram sends it with every update, and the webhook refuses updates "
                "without it"
            )
        if not _TELEGRAM_SECRET.fullmatch(self.telegram_webhook_secret.get_secret_value()):
            raise ValueError(
                "CIVICLINE_TELEGRAM_WEBHOOK_SECRET must be 1-256 characters of A-Z, a-z, 0-9, "
                "_ and - (Telegram's rule)"
            )
        return self

    @property
    def proxies(self) -> tuple[Network, ...]:
        return networks(self.trusted_proxies)

    @property
    def telegram_enabled(self) -> bool:
        return self.telegram_bot_token is not None

    @property
    def email_enabled(self) -> bool:
        return bool(self.imap_host and self.imap_user and self.imap_password)

    @property
    def sms_enabled(self) -> bool:
        return bool(self.twilio_account_sid and self.twilio_auth_token and self.twilio_from_number)

    @property
    def db_url(self) -> str:
        return (
            self.database_url or f"sqlite+aiosqlite:///{(self.var_dir / 'civicline.db').resolve()}"
        )

    @property
    def lockout_policy(self) -> LockoutPolicy:
        minutes = timedelta(minutes=self.console_lockout_minutes)
        return LockoutPolicy(
            max_failures=self.console_lockout_failures,
            max_client_failures=self.console_lockout_client_failures,
            window=minutes,
            lock_for=minutes,
        )

    @property
    def surge_policy(self) -> SurgePolicy:
        return SurgePolicy(min_reports=self.surge_min_reports, factor=self.surge_factor)

    @property
    def incident_policy(self) -> IncidentPolicy | None:
        if self.incident_window_hours == 0:
            return None
        return IncidentPolicy(window=timedelta(hours=self.incident_window_hours))

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
