"""The ApiError hierarchy and the one renderer: every error is an RFC 9457 problem+json body."""

from __future__ import annotations

import math
from datetime import UTC, datetime
from http import HTTPStatus
from typing import Any

import orjson
import structlog
from flask import Flask, Response, current_app, request
from sqlalchemy import exc as sa_exc
from werkzeug.exceptions import HTTPException, MethodNotAllowed

from backend.config import current_settings
from backend.core.context import current_request_id
from backend.core.error_tracking import capture
from backend.core.extensions import db

PROBLEM_JSON = "application/problem+json"
DEFAULT_RETRY_AFTER = 5
log = structlog.get_logger("homeroom.errors")

# Stable machine-readable codes for the statuses werkzeug (routing, body limits) raises itself.
STATUS_CODES: dict[int, str] = {
    400: "bad_request",
    401: "unauthorized",
    403: "forbidden",
    404: "not_found",
    405: "method_not_allowed",
    406: "not_acceptable",
    408: "request_timeout",
    409: "conflict",
    410: "gone",
    411: "length_required",
    412: "precondition_failed",
    413: "payload_too_large",
    414: "uri_too_long",
    415: "unsupported_media_type",
    422: "validation_error",
    428: "precondition_required",
    429: "rate_limited",
    431: "request_header_fields_too_large",
    500: "internal_error",
    501: "not_implemented",
    502: "upstream_error",
    503: "service_unavailable",
    504: "upstream_timeout",
}


# Driver-level failures (connection lost, pool exhausted, server gone): a 503, not a 500.
DATABASE_UNAVAILABLE: tuple[type[Exception], ...] = (
    sa_exc.OperationalError,
    sa_exc.InterfaceError,
    sa_exc.TimeoutError,
    sa_exc.DisconnectionError,
)


UNIQUE_VIOLATION = "23505"  # PostgreSQL's SQLSTATE


def is_unique_violation(error: sa_exc.IntegrityError) -> bool:
    """Whether the database refused a duplicate key (rather than a foreign key or a check)."""
    sqlstate = getattr(error.orig, "sqlstate", None)  # psycopg
    return sqlstate == UNIQUE_VIOLATION or (
        sqlstate is None and "UNIQUE constraint failed" in str(error.orig)
    )


class ApiError(Exception):
    """An error the API reports on purpose. Subclasses fix status and code."""

    status: int = 500
    code: str = "internal_error"

    def __init__(
        self,
        detail: str | None = None,
        *,
        headers: dict[str, str] | None = None,
        **extra: Any,
    ) -> None:
        super().__init__(detail or HTTPStatus(self.status).phrase)
        self.detail = detail
        self.headers = headers or {}
        self.extra = extra


class BadRequest(ApiError):
    status, code = 400, "bad_request"


class Unauthorized(ApiError):
    status, code = 401, "unauthorized"

    def __init__(self, detail: str | None = None, **kwargs: Any) -> None:
        super().__init__(detail, **kwargs)
        self.headers.setdefault("WWW-Authenticate", "Bearer")


class Forbidden(ApiError):
    status, code = 403, "forbidden"


class NotFound(ApiError):
    status, code = 404, "not_found"


class Conflict(ApiError):
    status, code = 409, "conflict"


class PayloadTooLarge(ApiError):
    status, code = 413, "payload_too_large"


class UnsupportedMediaType(ApiError):
    status, code = 415, "unsupported_media_type"


class ValidationFailed(ApiError):
    """422 with `errors: [{"field", "message", "type"}]`."""

    status, code = 422, "validation_error"

    def __init__(self, errors: list[dict[str, str]], detail: str = "The request is not valid.") -> None:
        super().__init__(detail, errors=errors)

    @classmethod
    def on(cls, field: str, message: str, kind: str = "value_error") -> ValidationFailed:
        """A 422 about one field."""
        return cls([{"field": field, "message": message, "type": kind}])


class _RetryableError(ApiError):
    def __init__(
        self, detail: str | None = None, *, retry_after: int = DEFAULT_RETRY_AFTER, **kwargs: Any
    ) -> None:
        super().__init__(detail, **kwargs)
        self.headers.setdefault("Retry-After", str(retry_after))


class RateLimited(_RetryableError):
    status, code = 429, "rate_limited"


class ServiceUnavailable(_RetryableError):
    status, code = 503, "service_unavailable"


class UpstreamError(ApiError):
    status, code = 502, "upstream_error"


class UpstreamTimeout(ApiError):
    status, code = 504, "upstream_timeout"


def problem_response(
    status: int,
    code: str,
    detail: str | None = None,
    *,
    headers: dict[str, str] | None = None,
    **extra: Any,
) -> Response:
    """Build the problem+json response; the single place its shape is defined."""
    body: dict[str, Any] = {
        "type": "about:blank",
        "title": HTTPStatus(status).phrase,
        "status": status,
        "detail": detail or HTTPStatus(status).description,
        "instance": request.path,
        "code": code,
        "request_id": current_request_id(),
    }
    body.update(extra)
    response = current_app.response_class(orjson.dumps(body), status=status, mimetype=PROBLEM_JSON)
    response.headers.update(headers or {})
    return response


def _rollback() -> None:
    """Leave no half-done transaction behind an error; a dead connection must not mask it."""
    try:
        db.session.rollback()
    except Exception:
        log.warning("rollback_failed", exc_info=True)


def handle_api_error(error: ApiError) -> Response:
    _rollback()
    return problem_response(error.status, error.code, error.detail, headers=error.headers, **error.extra)


def too_large_detail() -> str:
    return f"The request body is larger than the limit of {current_settings().max_content_length} bytes."


def _retry_after(error: HTTPException) -> str:
    """Seconds to wait, from the exception's own `retry_after` (seconds or a datetime) if it has one."""
    value = getattr(error, "retry_after", None)
    if isinstance(value, datetime):
        value = math.ceil((value - datetime.now(UTC)).total_seconds())
    return str(max(1, value)) if isinstance(value, int) else str(DEFAULT_RETRY_AFTER)


def handle_http_exception(error: HTTPException) -> Response:
    _rollback()
    status = error.code or 500
    headers: dict[str, str] = {}
    if isinstance(error, MethodNotAllowed) and error.valid_methods:
        headers["Allow"] = ", ".join(error.valid_methods)
    # Flask-Limiter's own 429 (it carries `.limit`) gets Retry-After from the limiter, which knows
    # when the window resets; every other 429 or 503 says when to retry here.
    if status in (429, 503) and not hasattr(error, "limit"):
        headers["Retry-After"] = _retry_after(error)
    detail: str | None
    if status == 413:
        detail = too_large_detail()
    elif status == 404:
        detail = "No resource at this URL."
    elif status == 405:
        detail = f"{request.method} is not allowed here."
    else:
        detail = error.description if status < 500 else None
    return problem_response(status, STATUS_CODES.get(status, "http_error"), detail, headers=headers)


def handle_database_unavailable(error: Exception) -> Response:
    _rollback()
    log.error("database_unavailable", error_type=type(error).__name__)
    return problem_response(
        503,
        "service_unavailable",
        "The database is unavailable. Try again shortly.",
        headers={"Retry-After": str(DEFAULT_RETRY_AFTER)},
    )


def handle_integrity_error(error: sa_exc.IntegrityError) -> Response:
    """A duplicate key that escaped its service lost a race with another request: a 409. Any other
    integrity error (a foreign key, a check) is a bug, reported as one."""
    if not is_unique_violation(error):
        return handle_unexpected(error)
    _rollback()
    log.warning("unique_violation", error_type=type(error.orig).__name__)
    return problem_response(409, "conflict", "This conflicts with data saved at the same time; try again.")


def handle_out_of_range(error: OverflowError) -> Response:
    """Date arithmetic or a number past what Python or the database can hold, from the input: a
    422 with one short log line (no traceback)."""
    _rollback()
    log.warning("value_out_of_range", error=str(error)[:200])
    detail = "A date or number in the request is out of range."
    return problem_response(422, "validation_error", detail, errors=[])


def handle_unexpected(error: Exception) -> Response:
    _rollback()
    log.error("unhandled_exception", exc_info=error)
    capture(error)
    extra: dict[str, Any] = {}
    if current_settings().app_env == "development":
        extra["exception"] = {"type": type(error).__name__, "message": str(error)}
    return problem_response(500, "internal_error", "An unexpected error occurred.", **extra)


def register_error_handlers(app: Flask) -> None:
    app.register_error_handler(ApiError, handle_api_error)
    app.register_error_handler(HTTPException, handle_http_exception)
    for db_error in DATABASE_UNAVAILABLE:
        app.register_error_handler(db_error, handle_database_unavailable)
    app.register_error_handler(sa_exc.IntegrityError, handle_integrity_error)
    app.register_error_handler(OverflowError, handle_out_of_range)
    app.register_error_handler(Exception, handle_unexpected)
