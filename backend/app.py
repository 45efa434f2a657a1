"""The application factory: settings -> logging -> Flask app -> extensions -> HTTP pipeline ->
every feature's init_app (FEATURES) -> rate limits -> error handlers. The top floor: it alone
imports every feature."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any, Protocol

from flask import Flask
from flask_migrate.cli import db as migrate_commands

from backend import (
    announcements,
    apidocs,
    assistant,
    attendance,
    audit,
    auth,
    backups,
    classes,
    cli,
    dashboard,
    demo,
    doctor,
    fees,
    grades,
    health_records,
    jobs,
    mail,
    notifications,
    ops,
    probes,
    reportcards,
    schools,
    spreadsheets,
    students,
    xero,
)
from backend.config import PROJECT_ROOT, SETTINGS_EXTENSION, Settings, load_settings
from backend.core.cache import init_cache
from backend.core.crypto import init_crypto
from backend.core.db import MIGRATIONS_DIR, configure_engine, engine_options
from backend.core.error_tracking import init_error_tracking
from backend.core.errors import register_error_handlers
from backend.core.extensions import APP_FACTORY, cors, db, end_sessions_quietly, migrate
from backend.core.http import init_http
from backend.core.logging import configure_logging
from backend.core.metrics import count_sql, init_metrics
from backend.core.ratelimit import init_rate_limits
from backend.models import import_all_models
from backend.tenancy import name_commands
from backend.version import __version__


class Feature(Protocol):
    """A feature package: `init_app` registers its blueprints, commands, checks and extensions."""

    def init_app(self, app: Flask, settings: Settings) -> None: ...


# In order: authentication (in `auth`) must run before any feature's views.
FEATURES: tuple[Feature, ...] = (
    probes,
    schools,
    auth,
    students,
    classes,
    attendance,
    grades,
    fees,
    health_records,
    reportcards,
    announcements,
    dashboard,
    assistant,
    mail,
    jobs,
    xero,
    notifications,
    spreadsheets,
    audit,
    backups,
    doctor,
    ops,
    apidocs,
    demo,
    cli,
)

CORS_ALLOW_HEADERS = ("Content-Type", "Authorization", "X-Request-ID", "Idempotency-Key", "traceparent")
# What a browser's script may read: exactly the headers the API sends.
CORS_EXPOSE_HEADERS = (
    "X-Request-ID",
    "traceparent",
    "Retry-After",
    "Location",
    "Idempotent-Replayed",
    "X-RateLimit-Limit",
    "X-RateLimit-Remaining",
    "X-RateLimit-Reset",
    "X-Report-Count",
)
CORS_MAX_AGE_SECONDS = 600


def create_app(overrides: Mapping[str, Any] | Settings | None = None) -> Flask:
    """Build the application: config -> logging -> extensions -> http pipeline -> features -> limits.

    `overrides` is a mapping of configuration variables laid over the environment, or a complete
    `Settings` object. No I/O happens here: connections are opened on first use.
    """
    settings = overrides if isinstance(overrides, Settings) else load_settings(overrides)
    configure_logging(settings)

    # No static folder: a JSON API serves no files (and a /static route would be unprotected).
    app = Flask("backend", instance_path=str(PROJECT_ROOT / "instance"), static_folder=None)
    app.extensions[SETTINGS_EXTENSION] = settings
    app.extensions[APP_FACTORY] = create_app
    app.config.update(
        SECRET_KEY=settings.secret_key.get_secret_value() if settings.secret_key else None,
        TESTING=settings.app_env == "testing",
        # One byte over the limit so that an oversize chunked body shows itself (see core/http.py).
        MAX_CONTENT_LENGTH=settings.max_content_length + 1,
        PREFERRED_URL_SCHEME="https" if settings.force_https else "http",
        SESSION_COOKIE_SECURE=settings.force_https,
        SESSION_COOKIE_HTTPONLY=True,
        SESSION_COOKIE_SAMESITE="Strict",
    )
    import_all_models()  # every table in db.metadata: migrations, the drift test and the doctor compare it
    _init_extensions(app, settings)
    init_http(app, settings)
    init_metrics(app, settings, __version__)
    init_error_tracking(app, settings)
    for feature in FEATURES:
        feature.init_app(app, settings)
    name_commands(app.cli)  # each command is the platform task it names (tenancy, row security)
    name_commands(migrate_commands, "flask db")
    # After authentication (limits are keyed by the user) and the views (they declare their limits).
    init_rate_limits(app, settings)
    register_error_handlers(app)
    return app


def _init_extensions(app: Flask, settings: Settings) -> None:
    app.config["SQLALCHEMY_DATABASE_URI"] = settings.database_url
    app.config["SQLALCHEMY_ENGINE_OPTIONS"] = engine_options(settings)
    db.init_app(app)
    end_sessions_quietly(app)  # after db.init_app: runs before its teardown
    with app.app_context():
        for engine in db.engines.values():
            configure_engine(
                engine,
                wait_timeout=settings.db_client_timeout,
                ping_after_idle=settings.db_ping_after_idle_seconds,
                app_role=settings.db_app_role,
            )
            count_sql(engine)
    migrate.init_app(app, db, directory=str(MIGRATIONS_DIR))
    init_cache(app, settings)
    init_crypto(app, settings)
    cors.init_app(
        app,
        resources={r"/api/*": {"origins": list(settings.cors_origins)}},
        supports_credentials=True,
        allow_headers=list(CORS_ALLOW_HEADERS),
        expose_headers=list(CORS_EXPOSE_HEADERS),
        max_age=CORS_MAX_AGE_SECONDS,
    )
