"""The real application, for Gunicorn, with every students export's database failing once the
export's first rows are read (its status decided, its body about to stream): SQLite's statement
is interrupted; PostgreSQL's backend is terminated (`pg_terminate_backend`, as an administrator or
a failover ends it). Rows come in batches of two, so the failure falls midway through the body.
Used by tests/spreadsheets/test_export_cut_gunicorn.py."""

from __future__ import annotations

import threading
from typing import Any

from flask import Flask, Response, request_finished
from sqlalchemy import Connection, event, text

from backend import create_app
from backend.config import exit_on_config_error
from backend.core.context import RowScope
from backend.core.db import running_under
from backend.core.extensions import db
from backend.spreadsheets import exports

with exit_on_config_error():
    application = create_app()
exports.BATCH = 2
_this_request = threading.local()  # gthread: one request per thread at a time

with application.app_context():
    _engine = db.engine


@event.listens_for(_engine, "before_cursor_execute")
def _remember_the_export(connection: Connection, _cursor: Any, statement: str, *_args: Any) -> None:
    if "FROM students" in statement and "admission_number" in statement:
        _this_request.export = connection


def _fail_the_export(_app: Flask, response: Response, **_extra: Any) -> None:
    connection: Connection | None = getattr(_this_request, "export", None)
    _this_request.export = None
    if connection is None or response.mimetype != "text/csv":
        return
    dbapi: Any = connection.connection.dbapi_connection
    if connection.dialect.name == "sqlite":
        interrupted = False

        def interrupt() -> int:
            nonlocal interrupted
            first, interrupted = not interrupted, True
            return 1 if first else 0

        dbapi.set_progress_handler(interrupt, 1)
        return
    # As the schema owner: the app's role may not end a backend that its session user started.
    with running_under(RowScope(owner=True)), _engine.connect() as other:
        other.execute(text("SELECT pg_terminate_backend(:pid)"), {"pid": dbapi.info.backend_pid})


request_finished.connect(_fail_the_export, application)
