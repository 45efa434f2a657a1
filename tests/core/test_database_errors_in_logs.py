"""No database error logs the values of the statement that failed: SQLAlchemy hides the bound
parameters, and the log shows a database error's kind, SQLSTATE and statement, never the server's
message or detail (which quote the values). DB_LOG_PARAMETERS, a local debugging switch refused in
production, shows them whole."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pytest
from flask import Blueprint, Flask
from flask.typing import ResponseReturnValue
from sqlalchemy import text

from backend.config import ConfigError, settings_from
from backend.core.extensions import db
from backend.core.markers import public, writes
from tests.conftest import ON_POSTGRES, base_config

RECOGNISABLE = "Zebedee.Quackenbush@example.org"


def _failing_insert() -> ResponseReturnValue:
    """A NOT NULL violation (an integrity error that is no race: a 500); PostgreSQL's detail quotes
    the whole row: Failing row contains (...)."""
    db.session.execute(text("INSERT INTO schools (name) VALUES (:email)"), {"email": RECOGNISABLE})
    return {}


def _failing_cast() -> ResponseReturnValue:
    """PostgreSQL quotes the value in its own message: invalid input syntax for type integer: "..."."""
    db.session.execute(text("SELECT CAST(:email AS integer)"), {"email": RECOGNISABLE})
    return {}


def _app(make_app: Callable[..., Flask], **config: Any) -> Flask:
    app = make_app(**config)
    routes = Blueprint("failing_statements", __name__)
    routes.add_url_rule("/api/_test/failing-insert", "insert", public(writes(_failing_insert)))
    routes.add_url_rule("/api/_test/failing-cast", "cast", public(writes(_failing_cast)))
    app.register_blueprint(routes)
    return app


@pytest.mark.parametrize("path", ["/api/_test/failing-insert", "/api/_test/failing-cast"])
def test_a_failed_statement_logs_no_value(make_app, logs, path: str) -> None:
    if path.endswith("cast") and not ON_POSTGRES:
        pytest.skip("SQLite casts anything without complaint")
    response = _app(make_app).test_client().get(path)
    assert response.status_code == 500
    assert RECOGNISABLE not in response.get_data(as_text=True)
    lines = logs()
    failure = next(line for line in lines if line["event"] == "unhandled_exception")
    described = failure["exception"][0]
    assert described["exc_type"] == "DatabaseErrorInLog"
    assert "[SQL: " in described["exc_value"]  # the statement, with its placeholders
    assert all(RECOGNISABLE not in str(line) for line in lines), [
        line for line in lines if RECOGNISABLE in str(line)
    ]


def test_the_debug_switch_shows_the_values_locally(make_app, logs) -> None:
    response = _app(make_app, DB_LOG_PARAMETERS=True).test_client().get("/api/_test/failing-insert")
    assert response.status_code == 500
    assert any(RECOGNISABLE in str(line) for line in logs())


def test_the_debug_switch_is_refused_in_production() -> None:
    with pytest.raises(ConfigError, match="DB_LOG_PARAMETERS"):
        settings_from(
            **base_config(
                "postgresql://homeroom@db.internal/homeroom",
                APP_ENV="production",
                DB_LOG_PARAMETERS=True,
            )
        )
