"""Homeroom: a JSON API for schools. `create_app` is the only way an application is made."""

from __future__ import annotations

import time
from collections.abc import Mapping
from typing import Any

from flask import Flask

from backend.apidocs import bp as apidocs_bp
from backend.attendance import bp as attendance_bp
from backend.audit import bp as audit_bp
from backend.audit.cli import register_audit_cli
from backend.auth import auth_bp, users_bp
from backend.auth.access import init_auth
from backend.auth.cli import register_auth_cli
from backend.auth.passwords import Passwords, make_hasher
from backend.auth.service import PASSWORDS_EXTENSION
from backend.classes import bp as classes_bp
from backend.classes import terms_bp
from backend.cli import register_cli
from backend.config import PROJECT_ROOT, SETTINGS_EXTENSION, Settings, load_settings
from backend.core.cache import init_cache
from backend.core.crypto import init_crypto
from backend.core.db import MIGRATIONS_DIR, configure_engine, engine_options
from backend.core.errors import register_error_handlers
from backend.core.http import init_http
from backend.core.logging import configure_logging
from backend.core.ratelimit import apply_route_limits, init_rate_limits
from backend.dashboard import bp as dashboard_bp
from backend.demo.cli import register_demo_cli
from backend.extensions import cors, db, migrate
from backend.fees import bp as fees_bp
from backend.grades import bp as grades_bp
from backend.health import bp as health_bp
from backend.health.checks import check_database, check_redis, register_check
from backend.health.routes import STARTED_AT
from backend.medical import bp as medical_bp
from backend.students import bp as students_bp
from backend.version import __version__

__all__ = ["__version__", "create_app"]

CORS_ALLOW_HEADERS = ("Content-Type", "Authorization", "X-Request-ID", "Idempotency-Key")
CORS_EXPOSE_HEADERS = (
    "X-Request-ID",
    "Retry-After",
    "RateLimit-Limit",
    "RateLimit-Remaining",
    "RateLimit-Reset",
    "X-RateLimit-Limit",
    "X-RateLimit-Remaining",
    "X-RateLimit-Reset",
)
CORS_MAX_AGE_SECONDS = 600


def create_app(overrides: Mapping[str, Any] | Settings | None = None) -> Flask:
    """Build the application: config -> logging -> extensions -> http pipeline -> blueprints -> CLI.

    `overrides` is a mapping of configuration variables laid over the environment, or a complete
    `Settings` object. No I/O happens here: connections are opened on first use.
    """
    settings = overrides if isinstance(overrides, Settings) else load_settings(overrides)
    configure_logging(settings)

    # No static folder: a JSON API serves no files (and a /static route would be unprotected).
    app = Flask(__name__, instance_path=str(PROJECT_ROOT / "instance"), static_folder=None)
    app.extensions[SETTINGS_EXTENSION] = settings
    app.extensions[STARTED_AT] = time.monotonic()
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
    _init_extensions(app, settings)
    init_http(app, settings)
    init_auth(app)
    # After the request id and authentication: limits are keyed by the user.
    init_rate_limits(app, settings)
    register_error_handlers(app)
    _register_blueprints(app)
    register_cli(app)
    register_auth_cli(app)
    register_demo_cli(app)
    register_audit_cli(app)
    return app


def _init_extensions(app: Flask, settings: Settings) -> None:
    app.config["SQLALCHEMY_DATABASE_URI"] = settings.database_url
    app.config["SQLALCHEMY_ENGINE_OPTIONS"] = engine_options(settings)
    db.init_app(app)
    with app.app_context():
        for engine in db.engines.values():
            configure_engine(engine)
    migrate.init_app(app, db, directory=str(MIGRATIONS_DIR))
    init_cache(app, settings)
    init_crypto(app, settings)
    app.extensions[PASSWORDS_EXTENSION] = Passwords(make_hasher(settings))
    cors.init_app(
        app,
        resources={r"/api/*": {"origins": list(settings.cors_origins)}},
        supports_credentials=True,
        allow_headers=list(CORS_ALLOW_HEADERS),
        expose_headers=list(CORS_EXPOSE_HEADERS),
        max_age=CORS_MAX_AGE_SECONDS,
    )


def _register_blueprints(app: Flask) -> None:
    blueprints = (
        health_bp,
        auth_bp,
        users_bp,
        students_bp,
        terms_bp,
        classes_bp,
        attendance_bp,
        grades_bp,
        fees_bp,
        medical_bp,
        dashboard_bp,
        audit_bp,
        apidocs_bp,
    )
    for blueprint in blueprints:
        app.register_blueprint(blueprint)
    register_check(app, "database", check_database, critical=True)
    register_check(app, "redis", check_redis, critical=False)
    apply_route_limits(app)
