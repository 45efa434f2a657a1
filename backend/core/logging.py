"""structlog for our own logs and the standard library's (Gunicorn, SQLAlchemy, werkzeug).

Both go through one processor chain ending in JSON (production) or console rendering, and a
redaction step removes credentials wherever they appear as keys.
"""

from __future__ import annotations

import logging
import re
import sys
from collections.abc import MutableMapping
from typing import Any, TextIO

import structlog
from structlog.processors import ExceptionRenderer
from structlog.tracebacks import ExceptionDictTransformer
from structlog.typing import EventDict, Processor

from backend.config import Settings

REDACTED = "[redacted]"
_SENSITIVE_KEY = re.compile(
    r"(authorization|cookie|passw(or)?d|secret|token|api[_-]?key|credential|private[_-]?key)", re.I
)
_QUIET_LOGGERS = {"werkzeug": logging.WARNING, "sqlalchemy": logging.WARNING, "alembic": logging.INFO}


def _redact(value: Any) -> Any:
    if isinstance(value, MutableMapping):
        return {k: REDACTED if _SENSITIVE_KEY.search(str(k)) else _redact(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [_redact(v) for v in value]
    return value


def redact_sensitive(_logger: Any, _method: str, event_dict: EventDict) -> EventDict:
    """Replace the value of every key that names a credential, at any depth."""
    return {k: REDACTED if _SENSITIVE_KEY.search(k) else _redact(v) for k, v in event_dict.items()}


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
    ]
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
