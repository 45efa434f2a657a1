"""`Settings`: the variables (fields.py) with the rules that need more than a type or a bound,
checked once when the settings are built: secrets long enough and no placeholders in production,
URLs of the right kind, rate limits that parse, values required together, timeouts in the right
order, relative paths anchored at the project root. Also how the settings are shown with every
secret hidden (`masked`, for `flask config check`)."""

from __future__ import annotations

import secrets
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

from cryptography.fernet import Fernet
from limits import parse_many
from pydantic import SecretStr, ValidationInfo, field_validator
from sqlalchemy.engine import make_url

from backend.config.fields import SettingsFields
from backend.config.paths import anchored, normalise_database_url

DEFAULT_SQLITE_URL = "sqlite:///instance/homeroom.db"
# CORS_ORIGINS in development when unset: the single-page app's dev server (Vite's port) under both
# names of this machine, which browsers treat as different sites (see README, "Setting up the
# single-page app").
DEVELOPMENT_CORS_ORIGINS = ("http://localhost:5173", "http://127.0.0.1:5173")
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
        "xero_client_secret",
        "xero_webhook_key",
    }
)
# Xero is on when all of these are set (XERO_* in the environment).
XERO_REQUIRED = ("xero_client_id", "xero_client_secret", "xero_redirect_uri", "xero_webhook_key")


def _is_production(info: ValidationInfo) -> bool:
    return info.data.get("app_env") == "production"


class Settings(SettingsFields):
    """The whole configuration. Field names are the environment variable names, lower-cased."""

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
        if not value and info.data.get("app_env") == "development":
            return DEVELOPMENT_CORS_ORIGINS
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
        "xero_rate_limit",
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

    @field_validator("xero_redirect_uri", "xero_authorize_url", "xero_identity_url", "xero_api_url")
    @classmethod
    def _check_xero_url(cls, value: str | None) -> str | None:
        if value and (urlsplit(value).scheme not in ("http", "https") or not urlsplit(value).netloc):
            raise ValueError("must be an http:// or https:// URL")
        return value.rstrip("/") if value else None

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
        return anchored(value)

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

    @field_validator("db_log_parameters")
    @classmethod
    def _no_parameters_in_production(cls, value: bool, info: ValidationInfo) -> bool:
        if value and _is_production(info):
            raise ValueError("must be off in production: the logs would carry names and email addresses")
        return value

    @field_validator("log_format")
    @classmethod
    def _default_log_format(cls, value: str | None, info: ValidationInfo) -> str:
        if value is None:
            return "console" if info.data.get("app_env") == "development" else "json"
        return value

    def deadline_seconds(self, *, long_running: bool) -> float:
        """How long a request may wait on the database: REQUEST_DEADLINE_SECONDS, or
        LONG_REQUEST_DEADLINE_SECONDS for a route that legitimately runs long."""
        return self.long_request_deadline_seconds if long_running else self.request_deadline_seconds

    @property
    def xero_missing(self) -> list[str]:
        """The Xero settings still unset (the integration is off until none are)."""
        return [name.upper() for name in XERO_REQUIRED if getattr(self, name) is None]

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
