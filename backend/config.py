"""Typed settings, read once from the environment and an optional `.env`, validated fail-fast.

Every problem is collected into one `ConfigError`; messages never echo the offending value,
so a secret pasted into the wrong variable is not printed back.
"""

from __future__ import annotations

import os
import secrets
import sys
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from pathlib import Path
from typing import Annotated, Any, Literal
from urllib.parse import urlsplit

from cryptography.fernet import Fernet
from flask import current_app
from limits import parse_many
from pydantic import Field, SecretStr, ValidationError, ValidationInfo, field_validator
from pydantic_settings import BaseSettings, NoDecode, PydanticBaseSettingsSource, SettingsConfigDict
from sqlalchemy.engine import URL, make_url
from sqlalchemy.exc import ArgumentError

PROJECT_ROOT = Path(__file__).resolve().parent.parent
DEFAULT_SQLITE_URL = "sqlite:///instance/homeroom.db"
ENV_FILE_VARIABLE = "HOMEROOM_ENV_FILE"
PLACEHOLDER_MARKERS = ("change-me", "changeme", "replace-me", "placeholder", "your-secret", "xxxx")
# Shown masked by `config check`; URLs with credentials are shown with the password hidden.
SECRET_FIELDS = frozenset(
    {
        "secret_key",
        "jwt_secret_key",
        "encryption_key",
        "encryption_keys",
        "metrics_token",
        "sentry_dsn",
        "assistant_api_key",
        "smtp_url",
    }
)

Environment = Literal["development", "testing", "production"]


class ConfigError(Exception):
    """The configuration is invalid; `problems` holds one human-readable line per problem."""

    def __init__(self, problems: list[str]) -> None:
        self.problems = problems
        noun = "problem" if len(problems) == 1 else "problems"
        lines = [f"Configuration is invalid ({len(problems)} {noun}):"]
        lines += [f"  {p}" for p in problems]
        super().__init__("\n".join(lines))


def _is_production(info: ValidationInfo) -> bool:
    return info.data.get("app_env") == "production"


class Settings(BaseSettings):
    """The whole configuration. Field names are the environment variable names, lower-cased."""

    model_config = SettingsConfigDict(
        env_file=PROJECT_ROOT / ".env",
        env_file_encoding="utf-8",
        env_ignore_empty=True,
        extra="ignore",
        frozen=True,
    )

    app_env: Environment = "development"
    secret_key: SecretStr | None = Field(default=None, validate_default=True)
    jwt_secret_key: SecretStr | None = Field(default=None, validate_default=True)
    database_url: str = Field(default="", validate_default=True)
    encryption_key: SecretStr | None = None
    encryption_keys: Annotated[tuple[SecretStr, ...], NoDecode] = Field(default=(), validate_default=True)
    cors_origins: Annotated[tuple[str, ...], NoDecode] = Field(default=(), validate_default=True)
    force_https: bool = False
    trusted_proxy_hops: int = Field(default=0, ge=0, le=10)
    max_content_length: int = Field(default=1024 * 1024, gt=0)
    log_level: Literal["DEBUG", "INFO", "WARNING", "ERROR", "CRITICAL"] = "INFO"
    log_format: Literal["json", "console"] | None = Field(default=None, validate_default=True)
    access_log_probes: bool = False

    access_token_ttl_seconds: int = Field(default=900, ge=60, le=3600)
    refresh_token_ttl_days: int = Field(default=14, ge=1, le=90)
    auth_state_cache_seconds: int = Field(default=60, ge=0, le=60)
    # In front of the shared cache, each process keeps a session's state this long (revocation
    # in another process is seen within it).
    auth_state_local_seconds: float = Field(default=2.0, ge=0, le=10)
    password_hash_time_cost: int = Field(default=3, ge=1)
    password_hash_memory_kib: int = Field(default=65536, ge=1024)
    password_hash_parallelism: int = Field(default=4, ge=1)
    login_rate_limit: str = "10 per minute;100 per hour"  # failed sign-ins per client IP
    login_failure_limit: str = "5 per 15 minutes"  # failed sign-ins per account and client IP
    login_account_failure_limit: str = "25 per 15 minutes"  # failed sign-ins per account, all clients
    refresh_rate_limit: str = "60 per minute;1000 per hour"
    password_change_failure_limit: str = "5 per 15 minutes"  # noqa: S105 - a rate limit, not a password

    audit_retention_days: int = Field(default=90, ge=90)

    redis_url: str | None = None
    redis_timeout: float = Field(default=0.5, gt=0, le=10)
    redis_cooldown_max: float = Field(default=30.0, ge=1)
    cache_max_entries: int = Field(default=10_000, ge=1)
    rate_limit_default: str = "300 per minute"
    rate_limit_strategy: Literal["fixed-window", "moving-window", "sliding-window-counter"] = "moving-window"

    db_pool_size: int = Field(default=10, ge=1)
    db_max_overflow: int = Field(default=20, ge=0)
    db_pool_timeout: float = Field(default=30.0, gt=0)
    db_pool_recycle: int = Field(default=3600, gt=0)
    # A pooled connection idle this long is pinged before use; one used more recently is not.
    db_ping_after_idle_seconds: float = Field(default=5.0, ge=0)
    db_connect_timeout: int = Field(default=5, ge=1)
    db_statement_timeout_ms: int = Field(default=30_000, ge=0)
    # The longest the app waits on a silent server before it gives up on the connection (a 503).
    db_client_timeout: float = Field(default=35.0, gt=0, le=600)
    db_busy_timeout_ms: int = Field(default=5_000, ge=0)
    health_check_timeout: float = Field(default=2.0, gt=0, le=30)

    # Backups (`flask backup ...`): configured by BACKUP_DIR; off-site copies by BACKUP_S3_BUCKET,
    # with the endpoint, region and credentials read by boto3 from the usual AWS_* variables.
    backup_dir: Path | None = None
    backup_retention_days: int = Field(default=7, ge=1, le=3650)
    backup_max_age_hours: float = Field(default=26.0, gt=0)
    backup_s3_bucket: str | None = None
    backup_s3_prefix: str = "homeroom/"
    # Where pg_dump, pg_restore and psql live; by default the ones matching the server's version.
    backup_pg_bin_dir: Path | None = None

    # GET /metrics answers only `Authorization: Bearer <METRICS_TOKEN>`; production serves no
    # metrics without one.
    metrics_token: SecretStr | None = None
    # Errors to Sentry (optional): nothing is imported or sent without a DSN.
    sentry_dsn: SecretStr | None = None
    sentry_traces_sample_rate: float = Field(default=0.0, ge=0, le=1)

    # The assistant's language model (optional): any OpenAI-compatible chat-completions API. Without
    # ASSISTANT_API_URL, or while it fails, answers are composed offline from the same facts.
    assistant_api_url: str | None = None
    assistant_api_key: SecretStr | None = None
    assistant_model: str | None = Field(default=None, validate_default=True)
    assistant_connect_timeout: float = Field(default=2.0, gt=0, le=30)
    assistant_read_timeout: float = Field(default=8.0, gt=0, le=120)
    # The whole exchange with the model, however the server trickles its answer.
    assistant_total_timeout: float = Field(default=12.0, gt=0, le=180)
    assistant_max_tokens: int = Field(default=400, ge=16, le=4000)
    assistant_max_answer_chars: int = Field(default=2000, ge=100, le=20_000)
    assistant_breaker_cooldown_max: float = Field(default=60.0, ge=1)
    assistant_rate_limit: str = "20 per minute;300 per day"  # questions per user

    # Mail: written to the outbox with the change that causes it, delivered by `flask outbox run`.
    # smtp://user:password@host:587 (STARTTLS as SMTP_STARTTLS says) or smtps://...:465 (TLS from
    # the start). Without SMTP_URL messages stay queued (`flask outbox status` shows them).
    smtp_url: SecretStr | None = None
    smtp_starttls: Literal["auto", "require", "off"] = "auto"
    smtp_timeout: float = Field(default=10.0, gt=0, le=120)
    # Certificates to trust for the SMTP server (a private CA); default: the system's.
    smtp_ca_file: Path | None = None
    mail_from: str | None = Field(default=None, validate_default=True)
    # Where links in emails point: the web app (invitations, password resets, unsubscribing).
    app_base_url: str = "http://localhost:8000"
    outbox_max_attempts: int = Field(default=8, ge=1, le=50)
    outbox_backoff_seconds: float = Field(default=30.0, gt=0)
    outbox_backoff_max_seconds: float = Field(default=3600.0, gt=0)
    outbox_poll_seconds: float = Field(default=2.0, gt=0, le=60)
    outbox_batch_size: int = Field(default=20, ge=1, le=500)
    invitation_ttl_hours: int = Field(default=72, ge=1, le=720)
    password_reset_ttl_minutes: int = Field(default=30, ge=5, le=1440)
    password_reset_rate_limit: str = "5 per hour;20 per day"  # noqa: S105 - a limit: per IP, and per address
    fee_reminder_days: int = Field(default=7, ge=1, le=60)  # "due in N days" reminders

    # The schema doctor (`flask db doctor`): false stops every fix it would make, on every instance.
    db_doctor_autofix: bool = True
    # Where it writes draft migrations for what it will not fix itself.
    db_doctor_drafts_dir: Path = Field(default=Path("instance/doctor-drafts"), validate_default=True)

    @field_validator("log_level", mode="before")
    @classmethod
    def _upper_level(cls, value: Any) -> Any:
        return value.upper() if isinstance(value, str) else value

    @field_validator("secret_key", "jwt_secret_key")
    @classmethod
    def _check_secret_key(cls, value: SecretStr | None, info: ValidationInfo) -> SecretStr:
        if value is None or not value.get_secret_value():
            if _is_production(info):
                raise ValueError("must be set in production")
            # A fresh random key per process: nothing signed in development outlives it.
            return SecretStr(secrets.token_urlsafe(48))
        raw = value.get_secret_value()
        if len(raw) < 32:
            raise ValueError("must be at least 32 characters long")
        if _is_production(info) and any(m in raw.lower() for m in PLACEHOLDER_MARKERS):
            raise ValueError(
                "is a placeholder; generate one: python -c 'import secrets; print(secrets.token_urlsafe(48))'"
            )
        return value

    @field_validator("database_url")
    @classmethod
    def _check_database_url(cls, value: str, info: ValidationInfo) -> str:
        if not value:
            if _is_production(info):
                raise ValueError("must be set in production")
            value = DEFAULT_SQLITE_URL
        return normalise_database_url(value).render_as_string(hide_password=False)

    @field_validator("encryption_keys", mode="before")
    @classmethod
    def _split_keys(cls, value: Any) -> Any:
        if isinstance(value, str):
            return tuple(key.strip() for key in value.split(",") if key.strip())
        return value

    @field_validator("encryption_keys")
    @classmethod
    def _check_keys(cls, value: tuple[SecretStr, ...], info: ValidationInfo) -> tuple[SecretStr, ...]:
        """ENCRYPTION_KEYS (first encrypts, all decrypt), else ENCRYPTION_KEY; each a Fernet key."""
        single = info.data.get("encryption_key")
        keys = value or ((single,) if single and single.get_secret_value() else ())
        if not keys and _is_production(info):
            raise ValueError("must be set in production (or ENCRYPTION_KEY): health records are encrypted")
        for position, key in enumerate(keys, start=1):
            try:
                Fernet(key.get_secret_value())
            except (ValueError, TypeError):
                raise ValueError(
                    f"key {position} is not a Fernet key (generate one: flask --app wsgi crypto generate-key)"
                ) from None
        return keys

    @field_validator("cors_origins", mode="before")
    @classmethod
    def _split_origins(cls, value: Any) -> Any:
        if isinstance(value, str):
            return tuple(o.strip().rstrip("/") for o in value.split(",") if o.strip())
        return value

    @field_validator("cors_origins")
    @classmethod
    def _check_origins(cls, value: tuple[str, ...], info: ValidationInfo) -> tuple[str, ...]:
        if "*" in value:
            raise ValueError("'*' is not allowed; list the exact origins (https://app.example.org)")
        bad = [o for o in value if not _is_origin(o)]
        if bad:
            raise ValueError(
                f"{len(bad)} entr{'y is' if len(bad) == 1 else 'ies are'} not scheme://host[:port]"
            )
        if not value and _is_production(info):
            raise ValueError("must list the web app's origins in production")
        return value

    @field_validator("redis_url")
    @classmethod
    def _check_redis_url(cls, value: str | None) -> str | None:
        if value and urlsplit(value).scheme not in ("redis", "rediss", "unix"):
            raise ValueError("must be a redis://, rediss:// or unix:// URL")
        return value or None

    @field_validator(
        "rate_limit_default",
        "login_rate_limit",
        "login_failure_limit",
        "login_account_failure_limit",
        "refresh_rate_limit",
        "password_change_failure_limit",
        "assistant_rate_limit",
        "password_reset_rate_limit",
    )
    @classmethod
    def _check_rate_limit(cls, value: str) -> str:
        try:
            parse_many(value)
        except ValueError:
            raise ValueError("is not a rate limit such as '300 per minute' or '10/second;1000/day'") from None
        return value

    @field_validator("metrics_token")
    @classmethod
    def _check_metrics_token(cls, value: SecretStr | None) -> SecretStr | None:
        if value is not None and len(value.get_secret_value()) < 16:
            raise ValueError("must be at least 16 characters long")
        return value

    @field_validator("assistant_api_url")
    @classmethod
    def _check_assistant_url(cls, value: str | None) -> str | None:
        if value and (urlsplit(value).scheme not in ("http", "https") or not urlsplit(value).netloc):
            raise ValueError("must be an http:// or https:// URL (the API's base, such as https://host/v1)")
        return value or None

    @field_validator("assistant_model")
    @classmethod
    def _model_with_url(cls, value: str | None, info: ValidationInfo) -> str | None:
        if info.data.get("assistant_api_url") and not value:
            raise ValueError("is required when ASSISTANT_API_URL is set")
        return value or None

    @field_validator("smtp_url")
    @classmethod
    def _check_smtp_url(cls, value: SecretStr | None) -> SecretStr | None:
        if value is None or not value.get_secret_value():
            return None
        parts = urlsplit(value.get_secret_value())
        if parts.scheme not in ("smtp", "smtps") or not parts.hostname:
            raise ValueError("must be an smtp:// or smtps:// URL with a host")
        return value

    @field_validator("mail_from")
    @classmethod
    def _mail_from_with_smtp(cls, value: str | None, info: ValidationInfo) -> str | None:
        if info.data.get("smtp_url") and not value:
            raise ValueError("is required when SMTP_URL is set (the sender's address)")
        if value and "@" not in value:
            raise ValueError(
                "must be an email address, optionally with a name: Homeroom <noreply@school.org>"
            )
        return value or None

    @field_validator("app_base_url")
    @classmethod
    def _check_base_url(cls, value: str) -> str:
        parts = urlsplit(value)
        if parts.scheme not in ("http", "https") or not parts.netloc:
            raise ValueError("must be an http:// or https:// URL")
        return value.rstrip("/")

    @field_validator("backup_dir", "backup_pg_bin_dir", mode="before")
    @classmethod
    def _empty_is_unset(cls, value: Any) -> Any:
        return None if value == "" else value

    @field_validator("backup_dir", "backup_pg_bin_dir", "db_doctor_drafts_dir")
    @classmethod
    def _anchor_path(cls, value: Path | None) -> Path | None:
        if value is None:
            return None
        return value if value.is_absolute() else PROJECT_ROOT / value

    @field_validator("backup_s3_prefix")
    @classmethod
    def _check_prefix(cls, value: str) -> str:
        value = value.strip("/")
        return f"{value}/" if value else ""

    @field_validator("db_client_timeout")
    @classmethod
    def _longer_than_statements(cls, value: float, info: ValidationInfo) -> float:
        statement_ms = info.data.get("db_statement_timeout_ms") or 0
        if value * 1000 <= statement_ms:
            raise ValueError(
                "must be longer than DB_STATEMENT_TIMEOUT_MS (the server stops a slow statement first)"
            )
        return value

    @field_validator("log_format")
    @classmethod
    def _default_log_format(cls, value: str | None, info: ValidationInfo) -> str:
        if value is None:
            return "console" if info.data.get("app_env") == "development" else "json"
        return value

    @property
    def is_production(self) -> bool:
        return self.app_env == "production"

    def masked(self) -> dict[str, Any]:
        """The effective settings with every secret hidden, for display."""
        shown: dict[str, Any] = {}
        for name, value in self.model_dump().items():
            if name in SECRET_FIELDS:
                value = _mask(value)
            elif name == "database_url":
                value = make_url(value).render_as_string(hide_password=True)
            elif name == "redis_url" and value:
                value = _hide_url_password(value)
            elif isinstance(value, tuple):
                value = ",".join(value)
            shown[name.upper()] = value
        return shown


def _mask(value: Any) -> str:
    if not value:
        return "(unset)"
    return f"******** ({len(value)} keys)" if isinstance(value, tuple) else "********"


def _hide_url_password(url: str) -> str:
    parts = urlsplit(url)
    if not parts.password:
        return url
    netloc = parts.netloc.replace(f":{parts.password}@", ":***@", 1)
    return parts._replace(netloc=netloc).geturl()


def _is_origin(origin: str) -> bool:
    parts = urlsplit(origin)
    return (
        parts.scheme in ("http", "https")
        and bool(parts.hostname)
        and not (parts.path or parts.query or parts.fragment or parts.username)
    )


def normalise_database_url(raw: str) -> URL:
    """Parse a database URL, serve PostgreSQL through psycopg 3 and anchor relative SQLite paths."""
    try:
        url = make_url(raw)
    except ArgumentError:
        raise ValueError("is not a valid database URL") from None
    backend = url.get_backend_name()
    if backend in ("postgres", "postgresql"):
        return url.set(drivername="postgresql+psycopg")
    if backend == "sqlite":
        database = url.database or ""
        if database and database != ":memory:" and not database.startswith("file:"):
            path = Path(database)
            if not path.is_absolute():
                url = url.set(database=str(PROJECT_ROOT / path))
        return url
    raise ValueError("must be a postgresql:// or sqlite:// URL")


SETTINGS_EXTENSION = "homeroom.settings"


def current_settings() -> Settings:
    """The settings of the app handling the current request or CLI command."""
    settings: Settings = current_app.extensions[SETTINGS_EXTENSION]
    return settings


def _format_errors(error: ValidationError) -> list[str]:
    problems = []
    for item in error.errors(include_input=False, include_url=False):
        name = str(item["loc"][0]).upper() if item["loc"] else "SETTINGS"
        message = item["msg"].removeprefix("Value error, ")
        problems.append(f"{name}: {message}")
    return problems


def load_settings(overrides: Mapping[str, Any] | None = None) -> Settings:
    """Read the environment and the `.env` file, apply `overrides` (keys are variable names), validate.

    HOMEROOM_ENV_FILE names another `.env` file; set to an empty string, no file is read.
    """
    values = {key.lower(): value for key, value in (overrides or {}).items()}
    env_file = os.environ.get(ENV_FILE_VARIABLE, str(PROJECT_ROOT / ".env")) or None
    try:
        return Settings(_env_file=env_file, **values)
    except ValidationError as error:
        raise ConfigError(_format_errors(error)) from None


class _ExplicitSettings(Settings):
    """Settings whose only source is the arguments: no environment, no `.env`."""

    @classmethod
    def settings_customise_sources(
        cls,
        settings_cls: type[BaseSettings],
        init_settings: PydanticBaseSettingsSource,
        env_settings: PydanticBaseSettingsSource,
        dotenv_settings: PydanticBaseSettingsSource,
        file_secret_settings: PydanticBaseSettingsSource,
    ) -> tuple[PydanticBaseSettingsSource, ...]:
        return (init_settings,)


def settings_from(**values: Any) -> Settings:
    """Settings built only from `values` (keys are variable names): for tests and tools."""
    try:
        return _ExplicitSettings(**{k.lower(): v for k, v in values.items()})
    except ValidationError as error:
        raise ConfigError(_format_errors(error)) from None


@contextmanager
def exit_on_config_error(stream: Any = None) -> Iterator[None]:
    """Turn a `ConfigError` into its problem lines on stderr and exit status 78 (EX_CONFIG)."""
    try:
        yield
    except ConfigError as error:
        (stream or sys.stderr).write(f"{error}\n")
        raise SystemExit(78) from None
