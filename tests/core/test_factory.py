"""The application factory: unbound extensions, no I/O at build time, the WSGI entry point."""

from __future__ import annotations

import subprocess
import sys

from flask import Flask
from sqlalchemy import text

from backend import create_app
from backend.config import PROJECT_ROOT, settings_from
from backend.core.db import dispose_pools
from backend.core.extensions import db
from tests.conftest import UNREACHABLE_DATABASE_URL


def test_factory_opens_no_connection() -> None:
    # An unreachable database would fail any connection attempt; building the app must not try.
    app = create_app(settings_from(APP_ENV="testing", DATABASE_URL=UNREACHABLE_DATABASE_URL))
    assert isinstance(app, Flask)
    with app.app_context():
        assert db.engine.pool.checkedout() == 0
        assert db.engine.pool.checkedin() == 0


def test_apps_are_independent(tmp_path) -> None:
    first = create_app(settings_from(APP_ENV="testing", DATABASE_URL=f"sqlite:///{tmp_path / 'a.db'}"))
    second = create_app(settings_from(APP_ENV="testing", DATABASE_URL=f"sqlite:///{tmp_path / 'b.db'}"))
    with first.app_context():
        db.session.execute(text("CREATE TABLE only_in_a (id INTEGER)"))
        db.session.commit()
    with second.app_context():
        names = db.session.execute(text("SELECT name FROM sqlite_master WHERE type='table'")).scalars().all()
        assert "only_in_a" not in names
    for app in (first, second):
        dispose_pools(app)


def test_probe_routes_are_registered(app: Flask) -> None:
    rules = {rule.rule for rule in app.url_map.iter_rules()}
    assert {"/health", "/ready", "/api/health"} <= rules


def test_wsgi_module_exposes_application() -> None:
    code = "import wsgi, flask; assert isinstance(wsgi.application, flask.Flask); print('ok')"
    result = subprocess.run(
        [sys.executable, "-c", code],
        cwd=PROJECT_ROOT,
        capture_output=True,
        text=True,
        timeout=60,
        env={
            "PATH": "/usr/bin:/bin",
            "HOMEROOM_ENV_FILE": "",
            "APP_ENV": "testing",
            "DATABASE_URL": UNREACHABLE_DATABASE_URL,
        },
    )
    assert result.returncode == 0, result.stderr
    assert result.stdout.splitlines()[-1] == "ok"
