"""Every configuration variable: its name (the field's name, upper-cased), type, default and
bounds, and where values are read from (the environment, then `.env`; empty values count as
unset). The rules that need more than a type or a bound, and the ones that relate variables to
each other, are `Settings`' validators (settings.py); `.env.example` documents each variable."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated, Literal

from pydantic import Field, SecretStr
from pydantic_settings import BaseSettings, NoDecode, SettingsConfigDict

from backend.config.paths import PROJECT_ROOT

Environment = Literal["development", "testing", "production"]


class SettingsFields(BaseSettings):
    """The variables, in the order they are validated (a rule may read only those before it)."""

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
    # A rotated refresh token presented again this soon after its rotation (two tabs, a retried
    # request) gets the same new token; later, or once that one is spent too, the reuse revokes the
    # session. 0: every reuse revokes.
    refresh_reuse_seconds: float = Field(default=30.0, ge=0, le=300)
    auth_state_cache_seconds: int = Field(default=60, ge=0, le=60)
    # In front of the shared cache, each process keeps a session's state this long (revocation
    # in another process is seen within it).
    auth_state_local_seconds: float = Field(default=2.0, ge=0, le=10)
    # argon2id at OWASP's recommended setting (m=19 MiB, t=2, p=1); stored hashes made with other
    # parameters are rehashed at their next sign-in.
    password_hash_time_cost: int = Field(default=2, ge=1)
    password_hash_memory_kib: int = Field(default=19456, ge=1024)
    password_hash_parallelism: int = Field(default=1, ge=1)
    # Hashes and verifications at once per process (each holds PASSWORD_HASH_MEMORY_KIB); a request
    # that gets no slot within PASSWORD_HASH_WAIT_SECONDS is answered 503 with Retry-After.
    password_hash_concurrency: int = Field(default=2, ge=1, le=64)
    password_hash_wait_seconds: float = Field(default=2.0, gt=0, le=30)
    login_rate_limit: str = "10 per minute;100 per hour"  # failed sign-ins per client IP
    login_failure_limit: str = "5 per 15 minutes"  # failed sign-ins per account and client IP
    login_account_failure_limit: str = "25 per 15 minutes"  # failed sign-ins per account, all clients
    refresh_rate_limit: str = "60 per minute;1000 per hour"
    password_change_failure_limit: str = "5 per 15 minutes"  # noqa: S105 - a rate limit, not a password

    audit_retention_days: int = Field(default=90, ge=90)

    redis_url: str | None = None
    redis_timeout: float = Field(default=0.5, gt=0, le=10)
    # Longest pause before Redis is tried again after a failure (the cache and the rate limits):
    # Redis is back in use within about this long of its return.
    redis_cooldown_max: float = Field(default=1.0, gt=0)
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
    # PostgreSQL: the app's connections act as this role (created by the migrations, which run as
    # the URL's user, the schema owner): it owns nothing and row-level security binds it.
    db_app_role: str = Field(default="homeroom_app", pattern=r"^[a-z_][a-z0-9_]{0,62}$")
    # A local debugging switch: database errors in the logs show the statement's bound values (names,
    # emails). Never in production (refused there).
    db_log_parameters: bool = False
    # An API request's deadline: a database that stops answering costs it at most this long, then a
    # 503. Routes that legitimately run long (exports, imports, backups: @long_running) get the
    # longer one.
    request_deadline_seconds: float = Field(default=10.0, gt=0, le=600)
    long_request_deadline_seconds: float = Field(default=300.0, gt=0, le=3600)
    health_check_timeout: float = Field(default=2.0, gt=0, le=30)
    # /api/health is a report: its checks run at most this often per worker (0: on every call).
    health_report_max_age_seconds: float = Field(default=2.0, ge=0, le=60)

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
    # Background jobs (an accounting sync, ...), run by the same `flask outbox run` process.
    jobs_max_attempts: int = Field(default=8, ge=1, le=50)
    jobs_backoff_seconds: float = Field(default=30.0, gt=0)
    jobs_backoff_max_seconds: float = Field(default=3600.0, gt=0)
    jobs_batch_size: int = Field(default=5, ge=1, le=100)
    invitation_ttl_hours: int = Field(default=72, ge=1, le=720)
    password_reset_ttl_minutes: int = Field(default=30, ge=5, le=1440)
    password_reset_rate_limit: str = "5 per hour;20 per day"  # noqa: S105 - a limit: per IP, and per address
    fee_reminder_days: int = Field(default=7, ge=1, le=60)  # "due in N days" reminders

    # The schema doctor (`flask db doctor`): false stops every fix it would make, on every instance.
    db_doctor_autofix: bool = True
    # Where it writes draft migrations for what it will not fix itself.
    db_doctor_drafts_dir: Path = Field(default=Path("instance/doctor-drafts"), validate_default=True)

    # Xero (optional): each school connects its own organisation; invoices, payments and reversals
    # are synced by jobs, payments recorded in Xero come back through signed webhooks. Off unless
    # the client id, secret, redirect URI and webhook key are all set.
    xero_client_id: str | None = None
    xero_client_secret: SecretStr | None = None
    xero_redirect_uri: str | None = None
    xero_webhook_key: SecretStr | None = None
    # Defaults for every school; a school's own (PATCH /api/integrations/xero) win.
    xero_sales_account_code: str = Field(default="200", min_length=1, max_length=10)
    xero_payment_account_code: str = Field(default="090", min_length=1, max_length=10)
    xero_tax_type: str = Field(default="NONE", min_length=1, max_length=20)
    xero_authorize_url: str = "https://login.xero.com/identity/connect/authorize"
    xero_identity_url: str = "https://identity.xero.com"
    xero_api_url: str = "https://api.xero.com"
    xero_timeout: float = Field(default=10.0, gt=0, le=60)
    # Calls per organisation (Xero allows 60 a minute and 5,000 a day).
    xero_rate_limit: str = "55 per minute;4800 per day"
    # Access tokens are refreshed this long before they expire.
    xero_refresh_margin_seconds: int = Field(default=300, ge=0, le=1200)
    # A refresh token unused this long is refreshed by a job (Xero drops one unused for 60 days).
    xero_refresh_idle_days: int = Field(default=30, ge=1, le=55)
