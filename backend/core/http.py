"""The request pipeline around every view: request id, the body size limit, timing, access log, headers.

The access log has one line per request. A streamed body (a CSV export) is still being produced
when the view returns, so its line is written when the stream ends, with an `outcome`:
`complete`, `cut` (the body failed midway: the line is an error, after a `response_cut` error
event naming the exception; the exception goes on to the server, which closes the connection
without the final chunk, so the client sees the body is incomplete) or `closed_early` (the
connection closed before the end: the client left).
"""

from __future__ import annotations

import re
import time
import uuid
from collections.abc import Callable, Iterable, Iterator
from typing import TYPE_CHECKING, Any

import structlog
from flask import Flask, Request, Response, request
from flask.sessions import SessionInterface, SessionMixin
from werkzeug.exceptions import HTTPException
from werkzeug.middleware.proxy_fix import ProxyFix

from backend.config import Settings, current_settings
from backend.core.context import RequestContext, begin, maybe_request_context, request_context
from backend.core.error_tracking import capture
from backend.core.errors import (
    DATABASE_UNAVAILABLE,
    BadRequest,
    PayloadTooLarge,
    too_large_detail,
)
from backend.core.markers import current_view, route_spec
from backend.core.validation import has_body

if TYPE_CHECKING:
    from _typeshed.wsgi import StartResponse, WSGIApplication, WSGIEnvironment

REQUEST_ID_HEADER = "X-Request-ID"
_VALID_REQUEST_ID = re.compile(r"[A-Za-z0-9._-]{1,128}")
# W3C Trace Context: version 00, a 32-hex trace id and a 16-hex parent id (neither all zeros), flags.
TRACEPARENT = "traceparent"
_TRACEPARENT = re.compile(r"00-(?!0{32})([0-9a-f]{32})-(?!0{16})[0-9a-f]{16}-[0-9a-f]{2}")
_USER_AGENT_MAX = 200
CONTENT_SECURITY_POLICY = "default-src 'none'; frame-ancestors 'none'; base-uri 'none'; form-action 'none'"

access_log = structlog.get_logger("homeroom.access")
log = structlog.get_logger("homeroom.http")


def request_id_from(incoming: str) -> str:
    """The caller's X-Request-ID when it is a sensible one, else a new id."""
    return incoming if _VALID_REQUEST_ID.fullmatch(incoming) else uuid.uuid4().hex


def trace_from(header: str) -> re.Match[str] | None:
    """A valid W3C `traceparent` (group 1: the trace id), else None."""
    return _TRACEPARENT.fullmatch(header.strip().lower())


def _start_request() -> None:
    """Resolve what every later step needs, once: the request context (core/context.py)."""
    view = current_view()
    spec = route_spec(view)
    settings = current_settings()
    started = time.perf_counter()
    context = RequestContext(
        request_id=request_id_from(request.headers.get(REQUEST_ID_HEADER, "")),
        started_at=started,
        settings=settings,
        view=view,
        spec=spec,
        reads_only=request.method in ("GET", "HEAD") and not spec.writes,
        deadline=started + settings.deadline_seconds(long_running=spec.long_running),
    )
    begin(context)
    structlog.contextvars.clear_contextvars()
    structlog.contextvars.bind_contextvars(request_id=context.request_id)
    trace = trace_from(request.headers.get(TRACEPARENT, ""))
    if trace is not None:  # a caller's trace (a SPA, a proxy) joins these log lines
        context.traceparent = trace.group(0)
        structlog.contextvars.bind_contextvars(trace_id=trace.group(1))


def _end_request(_error: BaseException | None) -> None:
    structlog.contextvars.clear_contextvars()


def _chunked_body() -> bytes:
    """Read a chunked body; a malformed one (a bad chunk size, a missing terminator, a body cut
    short) is the client's error, whatever the WSGI server raises for it."""
    try:
        return request.get_data(cache=True)
    except HTTPException:
        raise  # werkzeug's own answers (a disconnect, a body over the limit)
    except Exception:  # noqa: BLE001 - Gunicorn's parse errors (InvalidChunkSize ...) are plain Exceptions
        raise BadRequest("The chunked request body is malformed.") from None


def _enforce_size_limit() -> None:
    """Reject an oversize body before anything else looks at the request, authentication included.

    The limit is the same on every route, so the answer says nothing about the route, and a
    declared length is judged without reading a byte. Everything else about the body (its type,
    its JSON, its fields) is the view's business, after authentication (`core/api.py`)."""
    if not has_body() or request.routing_exception:
        return  # no body, or a 404/405 that routing reports first
    limit = request_context().settings.max_content_length
    if request.content_length and request.content_length > limit:
        raise PayloadTooLarge(too_large_detail())
    # A chunked body has no length to check up front, and werkzeug quietly truncates it at
    # MAX_CONTENT_LENGTH; that is set one byte above the limit, so a longer read means too large.
    # (The Gunicorn worker has read the whole request before the app sees it: reading it here
    # costs nothing more.)
    if request.content_length is None and len(_chunked_body()) > limit:
        raise PayloadTooLarge(too_large_detail())


SECURITY_HEADERS = (
    ("X-Content-Type-Options", "nosniff"),
    ("X-Frame-Options", "DENY"),
    ("Referrer-Policy", "no-referrer"),
    ("Content-Security-Policy", CONTENT_SECURITY_POLICY),
    ("Cross-Origin-Resource-Policy", "same-origin"),
    ("Cache-Control", "no-store"),
)
HSTS = ("Strict-Transport-Security", "max-age=63072000; includeSubDomains")


def security_headers(settings: Settings) -> Callable[[Response], Response]:
    """The after-request hook adding the security headers a view did not set, and the request id."""
    defaults = (*SECURITY_HEADERS, HSTS) if settings.force_https else SECURITY_HEADERS

    def add(response: Response) -> Response:
        headers = response.headers
        present = {name.lower() for name, _ in headers.items()}
        headers.extend([(name, value) for name, value in defaults if name.lower() not in present])
        context = maybe_request_context()
        if context is not None:
            headers[REQUEST_ID_HEADER] = context.request_id
            if context.traceparent is not None:
                headers[TRACEPARENT] = context.traceparent
        return response

    return add


class NoSessions(SessionInterface):
    """The API keeps no cookie session (bearer tokens; the refresh cookie is set by its route):
    nothing to open, sign or save on each request."""

    def open_session(self, app: Flask, request: Request) -> None:
        return None  # Flask then uses a null session, which refuses writes

    def save_session(self, app: Flask, session: SessionMixin, response: Response) -> None:
        return None


def _level(status: int) -> str:
    return "error" if status >= 500 else "warning" if status >= 400 else "info"


def _log_access(response: Response) -> Response:
    context = maybe_request_context()
    if context is not None and context.spec.probe and not context.settings.access_log_probes:
        return response
    fields: dict[str, Any] = {
        "method": request.method,
        "path": request.path,
        "route": request.url_rule.rule if request.url_rule else None,
        "status": response.status_code,
        "duration_ms": None,
        "bytes": response.content_length,
        "client_ip": request.remote_addr,
        "user_agent": (request.user_agent.string or "")[:_USER_AGENT_MAX],
    }
    caller = context.caller if context is not None else None
    if caller is not None:
        fields["user_id"] = str(caller.user_id)
        if caller.school_id is not None:  # an operator has no school
            fields["school_id"] = str(caller.school_id)
    started = context.started_at if context is not None else None
    if response.is_streamed and not response.direct_passthrough:
        # The line waits for the body's end; the request's log context may be gone by then.
        response.response = _WatchedBody(response.response, fields, started)
        return response
    fields["duration_ms"] = _since(started)
    getattr(access_log, _level(response.status_code))("request", **fields)
    return response


def _since(started: float | None) -> float | None:
    return round((time.perf_counter() - started) * 1000, 2) if started else None


class _WatchedBody:
    """A streamed body, passed through chunk by chunk; the access line is written when it ends."""

    def __init__(self, body: Iterable[Any], fields: dict[str, Any], started: float | None) -> None:
        self._body = body
        self._chunks: Iterator[Any] = iter(body)
        self._bound = structlog.contextvars.get_contextvars()  # the request id, the trace
        self._fields = fields
        self._started = started
        self._sent = 0
        self._ended = False

    def __iter__(self) -> _WatchedBody:
        return self

    def __next__(self) -> Any:
        try:
            chunk = next(self._chunks)
        except StopIteration:
            self._end("complete")
            raise
        except BaseException as error:  # the stream broke (or the worker was stopped): the server cuts it
            self._cut(error)
            raise
        self._sent += len(chunk.encode() if isinstance(chunk, str) else chunk)
        return chunk

    def close(self) -> None:
        try:
            close = getattr(self._body, "close", None)
            if close is not None:
                close()
        finally:
            # A HEAD request never reads the body; anything else closed before its end was left.
            self._end("complete" if self._fields["method"] == "HEAD" else "closed_early")

    def _cut(self, error: BaseException) -> None:
        log.bind(**self._bound).error(
            "response_cut",
            path=self._fields["path"],
            bytes_sent=self._sent,
            error_type=type(error).__name__,
            exc_info=error,
        )
        if isinstance(error, Exception) and not isinstance(error, DATABASE_UNAVAILABLE):
            capture(error)  # a bug; a lost database is an outage, and a stopped worker no error
        self._end("cut")

    def _end(self, outcome: str) -> None:
        if self._ended:
            return
        self._ended = True
        level = "error" if outcome == "cut" else _level(self._fields["status"])
        self._fields.update(outcome=outcome, bytes=self._sent, duration_ms=_since(self._started))
        getattr(access_log.bind(**self._bound), level)("request", **self._fields)


class Liveness:
    """`GET`/`HEAD /health` answered before Flask: no routing, no hooks, no context. The answer is
    the one the pipeline would give (`probes/routes.py: health`): `{"status":"ok"}`, every
    security header, the request id and trace echoed. Anything else goes on to the app. With
    ACCESS_LOG_PROBES on, /health takes the full pipeline, which writes its access line."""

    PATH = "/health"
    BODY = b'{"status":"ok"}'

    def __init__(self, app: WSGIApplication, settings: Settings) -> None:
        self.app = app
        defaults = (*SECURITY_HEADERS, HSTS) if settings.force_https else SECURITY_HEADERS
        self.headers = [("Content-Type", "application/json"), ("Content-Length", str(len(self.BODY)))]
        self.headers += defaults

    def __call__(self, environ: WSGIEnvironment, start_response: StartResponse) -> Iterable[bytes]:
        method = environ.get("REQUEST_METHOD")
        if environ.get("PATH_INFO") != self.PATH or method not in ("GET", "HEAD"):
            return self.app(environ, start_response)
        headers = [*self.headers, (REQUEST_ID_HEADER, request_id_from(environ.get("HTTP_X_REQUEST_ID", "")))]
        trace = trace_from(environ.get("HTTP_TRACEPARENT", ""))
        if trace is not None:
            headers.append((TRACEPARENT, trace.group(0)))
        start_response("200 OK", headers)
        return [] if method == "HEAD" else [self.BODY]


def init_http(app: Flask, settings: Settings) -> None:
    """Install ProxyFix, the liveness fast path and the before/after hooks. Registration order is
    the run order."""
    hops = settings.trusted_proxy_hops
    if hops:
        app.wsgi_app = ProxyFix(app.wsgi_app, x_for=hops, x_proto=hops, x_host=hops, x_port=hops)  # type: ignore[method-assign]  # Flask's way to wrap the WSGI app
    if not settings.access_log_probes:
        app.wsgi_app = Liveness(app.wsgi_app, settings)  # type: ignore[method-assign]
    app.before_request(_start_request)
    app.before_request(_enforce_size_limit)
    # after_request hooks run in reverse: headers first, then the access line sees the final response.
    app.after_request(_log_access)
    app.after_request(security_headers(settings))
    app.session_interface = NoSessions()
    # Nothing logged after the request (or outside any) may carry its request id or user.
    app.teardown_request(_end_request)
