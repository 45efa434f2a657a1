"""structlog for our own logs and the standard library's (Gunicorn, SQLAlchemy, werkzeug).

Both go through one processor chain ending in JSON (production) or console rendering, and a
redaction step removes credentials wherever they appear as keys.
"""

from __future__ import annotations

import dataclasses
import functools
import json
import logging
import re
import sqlite3
import sys
import threading
from collections.abc import MutableMapping
from typing import Any, TextIO

import orjson
import psycopg
import structlog
from sqlalchemy import exc as sa_exc
from structlog.processors import NAME_TO_LEVEL, ExceptionRenderer
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


@functools.lru_cache(maxsize=1024)
def _sensitive(key: str) -> bool:
    return _SENSITIVE_KEY.search(key) is not None


def _redact(value: Any) -> Any:
    if isinstance(value, MutableMapping):
        return {k: REDACTED if _sensitive(str(k)) else _redact(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [_redact(v) for v in value]
    return value


def redact_sensitive(_logger: Any, _method: str, event_dict: EventDict) -> EventDict:
    """Replace the value of every key that names a credential, at any depth."""
    return {k: REDACTED if _sensitive(k) else _redact(v) for k, v in event_dict.items()}


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


_WRITE_LOCK = threading.Lock()  # one line at a time from the request threads


class StdoutLogger:
    """structlog's own output for Homeroom's loggers: each rendered line is one write (and flush) to
    whatever `sys.stdout` is now. No `logging.LogRecord`, no handler chain, no formatter: the
    access line of every request takes this path (issue 30: the standard library's handler and
    its lock were 13 % of a request's own time)."""

    __slots__ = ("name",)

    def __init__(self, name: str = "") -> None:
        self.name = name  # `add_logger_name` reads it

    def msg(self, message: str) -> None:
        out = sys.stdout
        with _WRITE_LOCK:
            out.write(message + "\n")
            out.flush()

    debug = info = warning = warn = error = critical = exception = fatal = log = msg


def stdout_logger(*args: Any) -> StdoutLogger:
    """The logger factory: `structlog.get_logger("homeroom.access")` names its logger."""
    return StdoutLogger(str(args[0]) if args else "")


@dataclasses.dataclass
class _Output:
    """What the last `configure_logging` asked for. structlog caches each logger on first use, so
    its processors are fixed; these two steps read the level and the renderer from here."""

    level: int = logging.INFO
    render: Processor = dataclasses.field(default=structlog.processors.JSONRenderer())


_OUTPUT = _Output()


def below_level(_logger: Any, method: str, event_dict: EventDict) -> EventDict:
    """Drop an event under LOG_LEVEL (`exception` is an error)."""
    if NAME_TO_LEVEL.get(method, logging.INFO) < _OUTPUT.level:
        raise structlog.DropEvent
    return event_dict


def render(logger: Any, method: str, event_dict: EventDict) -> Any:
    return _OUTPUT.render(logger, method, event_dict)


def _renderer(log_format: str) -> Processor:
    if log_format != "json":
        plain = structlog.dev.plain_traceback  # the standard library's format: no locals
        return structlog.dev.ConsoleRenderer(colors=sys.stdout.isatty(), exception_formatter=plain)
    # Tracebacks never show local variables: a frame's locals hold request bodies (passwords,
    # health records, payments), and they would be rendered after the redaction step has run.
    exceptions = ExceptionRenderer(ExceptionDictTransformer(show_locals=False))
    as_json = structlog.processors.JSONRenderer(serializer=_orjson_text)

    def json_line(logger: Any, method: str, event_dict: EventDict) -> Any:
        return as_json(logger, method, exceptions(logger, method, event_dict))

    return json_line


def _orjson_text(value: Any, **options: Any) -> str:
    try:
        return orjson.dumps(value, option=orjson.OPT_NON_STR_KEYS, **options).decode()
    except orjson.JSONEncodeError:  # what orjson refuses (integers past 64 bits, lone surrogates)
        return json.dumps(value, default=repr)  # a log call never raises into the request


_NOT_BREADCRUMB_DATA = frozenset({"event", "logger", "level", "timestamp", "exc_info"})


def sentry_breadcrumb(_logger: Any, method: str, event_dict: EventDict) -> EventDict:
    """With Sentry on, each of our lines is a breadcrumb of the next error report, as the standard
    library's lines are (Sentry's logging integration); after redaction and scrubbing."""
    sentry = sys.modules.get("sentry_sdk")
    if sentry is not None and sentry.get_client().is_active():
        sentry.add_breadcrumb(
            type="log",
            category=event_dict.get("logger"),
            level=event_dict.get("level", method),
            message=str(event_dict.get("event", "")),
            data={key: value for key, value in event_dict.items() if key not in _NOT_BREADCRUMB_DATA},
        )
    return event_dict


def configure_logging(settings: Settings) -> None:
    """(Re)configure structlog and the root logger; safe to call more than once.

    Homeroom's own loggers (structlog) render and write directly (`StdoutLogger`); the standard
    library's (Gunicorn, SQLAlchemy, Alembic, werkzeug) go through the root handler, whose
    formatter runs the same steps. Both read the level and the format from `_OUTPUT`."""
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
    _OUTPUT.level = logging.getLevelName(settings.log_level)
    _OUTPUT.render = _renderer(settings.log_format or "json")
    structlog.configure(
        processors=[below_level, *shared, sentry_breadcrumb, render],
        logger_factory=stdout_logger,
        wrapper_class=structlog.make_filtering_bound_logger(logging.DEBUG),
        cache_logger_on_first_use=True,
    )
    handler = StdoutHandler()
    handler.setFormatter(
        structlog.stdlib.ProcessorFormatter(
            foreign_pre_chain=shared,
            processors=[structlog.stdlib.ProcessorFormatter.remove_processors_meta, render],
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
