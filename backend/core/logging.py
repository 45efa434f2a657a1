"""structlog for our own logs and the standard library's (Gunicorn, SQLAlchemy, werkzeug).

Both go through one processor chain ending in JSON (production) or console rendering, and a
redaction step removes credentials wherever they appear as keys.
"""

from __future__ import annotations

import logging
import re
import sqlite3
import sys
from collections.abc import MutableMapping
from typing import Any, TextIO

import psycopg
import structlog
from sqlalchemy import exc as sa_exc
from structlog.processors import ExceptionRenderer
from structlog.tracebacks import ExceptionDictTransformer
from structlog.typing import EventDict, Processor

from backend.config import Settings

REDACTED = "[redacted]"
_SENSITIVE_KEY = re.compile(
    r"(authorization|cookie|passw(or)?d|secret|token|api[_-]?key|credential|private[_-]?key)", re.I
)
_QUIET_LOGGERS = {
    "werkzeug": logging.WARNING,
    "sqlalchemy": logging.WARNING,
    "backend.core.db.connections": logging.WARNING,  # SQLAlchemy's pool logs under its class's module
    "alembic": logging.INFO,
}


def _redact(value: Any) -> Any:
    if isinstance(value, MutableMapping):
        return {k: REDACTED if _SENSITIVE_KEY.search(str(k)) else _redact(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [_redact(v) for v in value]
    return value


def redact_sensitive(_logger: Any, _method: str, event_dict: EventDict) -> EventDict:
    """Replace the value of every key that names a credential, at any depth."""
    return {k: REDACTED if _SENSITIVE_KEY.search(k) else _redact(v) for k, v in event_dict.items()}


class DatabaseErrorInLog(Exception):
    """What the logs show of a database error: its kind, SQLSTATE, constraint and statement. Not the
    statement's values, nor the server's message and detail, which quote them ("Key (email)=(...)",
    "Failing row contains (...)")."""


def _exception_of(exc_info: Any) -> BaseException | None:
    if exc_info is True:
        return sys.exc_info()[1]
    if isinstance(exc_info, BaseException):
        return exc_info
    if isinstance(exc_info, tuple) and len(exc_info) == 3:
        return exc_info[1] if isinstance(exc_info[1], BaseException) else None
    return None


def _database_error(error: BaseException) -> BaseException | None:
    """The database error in `error`'s chain (itself, its cause or its context), if any."""
    seen: set[int] = set()
    current: BaseException | None = error
    while current is not None and id(current) not in seen:
        if isinstance(current, sa_exc.StatementError | psycopg.Error | sqlite3.Error):
            return current
        seen.add(id(current))
        current = current.__cause__ or current.__context__
    return None


def _kind(error: BaseException) -> str:
    return f"{type(error).__module__}.{type(error).__qualname__}"


def _described(error: BaseException, database_error: BaseException) -> str:
    driver_error = getattr(database_error, "orig", None) or database_error
    parts = [_kind(error)]
    parts += [f"from {_kind(driver_error)}"] if driver_error is not error else []
    sqlstate = getattr(driver_error, "sqlstate", None) or getattr(driver_error, "sqlite_errorname", None)
    parts += [f"sqlstate={sqlstate}"] if sqlstate else []
    diagnosis = getattr(driver_error, "diag", None)
    for field in ("table_name", "column_name", "constraint_name"):
        value = getattr(diagnosis, field, None)
        parts += [f"{field.removesuffix('_name')}={value}"] if value else []
    statement = getattr(database_error, "statement", None)
    parts += [f"[SQL: {statement[:2000]}]"] if statement else []
    return " ".join(parts)


def without_values(error: BaseException) -> BaseException:
    """`error` as logs and error reports may show it: a database error (or one that comes from
    one) becomes its description (`DatabaseErrorInLog`, same traceback); anything else stays."""
    database_error = _database_error(error)
    if database_error is None:
        return error
    return DatabaseErrorInLog(_described(error, database_error)).with_traceback(error.__traceback__)


_SHOW_DATABASE_VALUES = [False]  # DB_LOG_PARAMETERS, as the last configure_logging() was told


def scrub_database_errors(_logger: Any, _method: str, event_dict: EventDict) -> EventDict:
    """A logged exception that is (or comes from) a database error is replaced by its description:
    no bound values, no server message quoting them. First in the chain, so that what the standard
    library's handlers get (Sentry's breadcrumbs among them) is scrubbed too."""
    error = _exception_of(event_dict.get("exc_info"))
    if error is not None and not _SHOW_DATABASE_VALUES[0]:
        event_dict["exc_info"] = without_values(error)
    return event_dict


class StdoutHandler(logging.StreamHandler[TextIO]):
    """Writes to whatever `sys.stdout` is when a record is emitted, so redirection and capture work."""

    def __init__(self) -> None:
        super().__init__()

    @property
    def stream(self) -> TextIO:
        return sys.stdout

    @stream.setter
    def stream(self, _value: TextIO) -> None:
        pass


def configure_logging(settings: Settings) -> None:
    """(Re)configure structlog and the root logger; safe to call more than once."""
    shared: list[Processor] = [
        structlog.contextvars.merge_contextvars,
        structlog.stdlib.add_log_level,
        structlog.stdlib.add_logger_name,
        structlog.processors.TimeStamper(fmt="iso", utc=True),
        structlog.stdlib.ExtraAdder(),
        redact_sensitive,
        scrub_database_errors,
    ]
    _SHOW_DATABASE_VALUES[0] = settings.db_log_parameters  # the local debugging switch
    # Only the handler's formatter depends on the format, so loggers cached by structlog stay valid.
    # Tracebacks never show local variables: a frame's locals hold request bodies (passwords, health
    # records, payments), and they would be rendered after the redaction step has run.
    render: list[Processor]
    if settings.log_format == "json":
        tracebacks = ExceptionDictTransformer(show_locals=False)
        render = [ExceptionRenderer(tracebacks), structlog.processors.JSONRenderer()]
    else:
        plain = structlog.dev.plain_traceback  # the standard library's format: no locals
        render = [structlog.dev.ConsoleRenderer(colors=sys.stdout.isatty(), exception_formatter=plain)]

    structlog.configure(
        processors=[
            structlog.stdlib.filter_by_level,
            *shared,
            structlog.stdlib.ProcessorFormatter.wrap_for_formatter,
        ],
        logger_factory=structlog.stdlib.LoggerFactory(),
        wrapper_class=structlog.stdlib.BoundLogger,
        cache_logger_on_first_use=True,
    )
    handler = StdoutHandler()
    handler.setFormatter(
        structlog.stdlib.ProcessorFormatter(
            foreign_pre_chain=shared,
            processors=[structlog.stdlib.ProcessorFormatter.remove_processors_meta, *render],
        )
    )
    root = logging.getLogger()
    root.handlers[:] = [handler]
    root.setLevel(settings.log_level)
    for name, level in _QUIET_LOGGERS.items():
        logging.getLogger(name).setLevel(max(level, logging.getLevelName(settings.log_level)))
    for name in ("gunicorn.error", "gunicorn.access"):
        gunicorn_logger = logging.getLogger(name)
        gunicorn_logger.handlers[:] = []
        gunicorn_logger.propagate = True
