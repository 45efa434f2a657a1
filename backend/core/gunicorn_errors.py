"""What the Gunicorn worker answers itself, before or instead of the app, and the chunked bodies it
checks while it reads them. Plain logic, used by `core/gunicorn_worker.py`.

**Refusals.** Gunicorn's parser refuses a request it cannot read, or one over its limits, with an
HTML page and none of the app's headers. Here each such error is a `Refusal`: the status (a
request line over `limit_request_line` is a 414, header fields over `limit_request_fields` or
`limit_request_field_size` a 431, any other parse error a 400, anything unexpected a 500), a fixed
detail and the stable `code` of `core/errors.py`. It is written as problem+json (`problem_bytes`,
the shape every other error has) with the security headers of `core/http.py`, a fresh request id
and `Connection: close`, and logged as one `request_refused` line: the status, a short reason,
never the request line or a header value (either may carry a token). The worker closes the
connection after it.

**Chunked bodies.** A chunked body has no length to wait for, so the worker's main loop checks its
framing (RFC 9112, section 7.1) as the bytes arrive, by the rules Gunicorn's parser applies when
the app reads it: a malformed body is refused (400) as soon as its first wrong byte is in, one
that outgrows MAX_CONTENT_LENGTH (413) as soon as a chunk size says so, and a well-formed one is
handed to a thread only once it is whole, however slowly it comes (within the read timeout).
Gunicorn's parser, left to itself, waits for the end of a chunk-size line before it looks at it,
and a thread waits on the socket with no time limit: a body of `zz` and nothing more, or a chunk
size larger than the limit, got no answer at all.
"""

from __future__ import annotations

import re
import ssl
import uuid
from collections.abc import Iterable
from dataclasses import dataclass, replace
from enum import Enum
from http import HTTPStatus
from typing import Any

import structlog
from gunicorn import util
from gunicorn.http import errors as parse
from gunicorn.http.body import CHUNK_EXT_RE
from gunicorn.http.message import RFC9110_6_5_1_FORBIDDEN_TRAILER

from backend.core.admission import PATH_LOG_LIMIT, Target, problem_bytes
from backend.core.errors import STATUS_CODES
from backend.core.http import HSTS, REQUEST_ID_HEADER, SECURITY_HEADERS

log = structlog.get_logger("homeroom.gunicorn")
Header = tuple[str, str]


HEAD_LIMIT = 64 * 1024  # past this without an end of head, Gunicorn's parser answers (414/431)
_END_OF_HEAD = b"\r\n\r\n"
_CONTENT_LENGTH = re.compile(rb"^content-length:[ \t]*(\d{1,12})[ \t]*\r?$", re.I | re.M)


def request_is_in(data: bytes, body_limit: int) -> bool:
    """Whether `data` holds a whole request head, and its body when its length is known and within
    the limit (a larger one is refused by the app from its Content-Length, unread)."""
    end = data.find(_END_OF_HEAD)
    if end < 0:
        return len(data) > HEAD_LIMIT
    length = _CONTENT_LENGTH.search(data, 0, end + 2)
    wanted = int(length.group(1)) if length else 0
    return wanted > body_limit or len(data) - end - len(_END_OF_HEAD) >= wanted


@dataclass(frozen=True)
class Refusal:
    status: int
    reason: str  # for the log line: short, fixed, never the request's own bytes
    detail: str
    code: str = ""

    @property
    def title(self) -> str:
        return _RFC_9110_PHRASES.get(self.status) or HTTPStatus(self.status).phrase


# Where Python's phrases predate RFC 9110 (section 15.5.15).
_RFC_9110_PHRASES = {414: "URI Too Long"}


REQUEST_LINE_TOO_LONG = Refusal(414, "request line too long", "The request line is too long.")
HEADERS_TOO_LARGE = Refusal(
    431,
    "header fields too large or too many",
    "The request has too many header fields, or one that is too long.",
)
BAD_REQUEST_LINE = Refusal(400, "invalid request line", "The request line could not be parsed.")
BAD_HEADER = Refusal(400, "invalid header", "A request header is not valid.")
BAD_CHUNKED_BODY = Refusal(400, "malformed chunked body", "The chunked request body is malformed.")
BAD_REQUEST = Refusal(400, "invalid request", "The request could not be parsed.")
BODY_TOO_LARGE = Refusal(413, "chunked body too large", "The request body is larger than the limit.")
REQUEST_TIMEOUT = Refusal(408, "request not received in time", "The request was not received in time.")
INTERNAL_ERROR = Refusal(500, "server error", "The server could not answer this request.")

# First match wins: Gunicorn's errors about the app's own response subclass its request-header ones.
_REFUSALS: tuple[tuple[type[BaseException] | tuple[type[BaseException], ...], Refusal], ...] = (
    ((parse.InvalidResponseHeader, parse.InvalidResponseHeaderName), INTERNAL_ERROR),
    (parse.LimitRequestLine, REQUEST_LINE_TOO_LONG),
    (parse.LimitRequestHeaders, HEADERS_TOO_LARGE),
    ((parse.InvalidRequestLine, parse.InvalidRequestMethod, parse.InvalidHTTPVersion), BAD_REQUEST_LINE),
    ((parse.InvalidHeader, parse.InvalidHeaderName, parse.ObsoleteFolding), BAD_HEADER),
    ((parse.InvalidChunkSize, parse.ChunkMissingTerminator, parse.InvalidChunkExtension), BAD_CHUNKED_BODY),
    (
        (
            parse.InvalidProxyLine,
            parse.InvalidProxyHeader,
            parse.InvalidSchemeHeaders,
            parse.InvalidH2CPreface,
        ),
        BAD_REQUEST,
    ),
    (
        parse.ForbiddenProxyRequest,
        Refusal(403, "proxy not allowed", "This proxy may not forward requests here."),
    ),
    (
        parse.UnsupportedTransferCoding,
        Refusal(501, "unsupported transfer coding", "The request's Transfer-Encoding is not supported."),
    ),
    (
        parse.ExpectationFailed,
        Refusal(
            417, "unsupported expectation", "The request's Expect header cannot be met.", "expectation_failed"
        ),
    ),
    (ssl.SSLError, Refusal(400, "tls error", "The TLS connection failed.")),
)


def refusal_for(error: BaseException) -> Refusal:
    """What a Gunicorn worker error is answered with; anything unforeseen is a 500."""
    for kinds, refusal in _REFUSALS:
        if isinstance(error, kinds):
            return refusal
    return INTERNAL_ERROR  # ConfigurationProblem too: the server's fault, not the client's


def problem_headers(force_https: bool) -> tuple[Header, ...]:
    """The headers the app adds to every response, for the answers the worker writes itself."""
    return (*SECURITY_HEADERS, HSTS) if force_https else SECURITY_HEADERS


def refusal_bytes(
    refusal: Refusal, request_id: str, headers: Iterable[Header] = SECURITY_HEADERS, instance: str = ""
) -> bytes:
    """The whole response: problem+json, the security headers and the request id, Connection: close."""
    return problem_bytes(
        refusal.status,
        refusal.title,
        refusal.detail,
        refusal.code or STATUS_CODES.get(refusal.status, "bad_request"),
        instance=instance,
        request_id=request_id,
        headers=((REQUEST_ID_HEADER, request_id), *headers),
    )


def refuse(
    sock: Any,
    refusal: Refusal,
    headers: Iterable[Header] = SECURITY_HEADERS,
    *,
    request_id: str | None = None,
    instance: str = "",
    error: BaseException | None = None,
    **fields: Any,
) -> None:
    """Log one `request_refused` line and write the answer (small: it never waits). A 500 logs its
    exception unless it is Gunicorn's complaint about a response header, whose message may hold
    the header's value. The caller closes the connection."""
    request_id = request_id or uuid.uuid4().hex
    level = "error" if refusal.status >= 500 else "warning"
    if error is not None:
        fields["error_type"] = type(error).__name__
        if refusal.status >= 500 and not isinstance(error, parse.ParseException):
            fields["exc_info"] = error
    getattr(log, level)(
        "request_refused", status=refusal.status, reason=refusal.reason, request_id=request_id, **fields
    )
    try:
        util.write_nonblock(sock, refusal_bytes(refusal, request_id, headers, instance))
    except OSError:
        log.debug("refusal_not_sent", status=refusal.status, request_id=request_id)  # the client left


def refuse_target(
    sock: Any, refusal: Refusal, headers: Iterable[Header], target: Target, **fields: Any
) -> None:
    """`refuse` a request whose head the worker has read: its id, method and path (no query)."""
    path = target.path[:PATH_LOG_LIMIT]
    refuse(
        sock,
        refusal,
        headers,
        request_id=target.request_id,
        instance=path,
        method=target.method,
        path=path,
        **fields,
    )


def write_problem(sock: Any, status_int: int, reason: str, _message: str = "") -> None:
    """In place of Gunicorn's `util.write_error` (an HTML page), for any caller but our worker's
    `handle_error`: a problem with the security headers. Gunicorn's message is dropped: it may
    echo the request line."""
    known = {
        refusal.status: refusal for refusal in (REQUEST_TIMEOUT, REQUEST_LINE_TOO_LONG, HEADERS_TOO_LARGE)
    }
    refuse(sock, known.get(status_int) or Refusal(status_int, reason.lower(), f"{reason}."))


# --- chunked bodies ---------------------------------------------------------------------------------

_TRANSFER_ENCODING = re.compile(rb"^transfer-encoding:[ \t]*([^\r\n]*?)[ \t]*\r?$", re.I | re.M)
_CONTENT_LENGTH_OR_EXPECT = re.compile(rb"^(?:content-length|expect):", re.I | re.M)
_HEX = re.compile(rb"[0-9A-Fa-f]+")
# What a chunk-size line (before its CRLF) may begin with: hex digits, then blanks and extensions.
_SIZE_LINE_START = re.compile(rb"(?:[0-9A-Fa-f]+(?:[ \t]*(?:;[\t\x20-\x7e\x80-\xff]*)?)?)?\r?")
_FIELD_CHARS = rb"[\t\x20-\x7e\x80-\xff]"
_TOKEN = rb"[!#$%&'*+\-.^_`|~0-9A-Za-z]+"
_TRAILER_LINE = re.compile(_TOKEN + rb":" + _FIELD_CHARS + rb"*")
_TRAILER_START = re.compile(rb"(?:" + _TOKEN + rb"(?::" + _FIELD_CHARS + rb"*)?)?\r?")
_CRLF = b"\r\n"
FRAMED_LIMIT = 2  # a chunked body's bytes on the wire, framing included, as a multiple of the limit


def chunked_framing(head: bytes | bytearray) -> bool:
    """Whether the main loop reads this request's body as chunked: its Transfer-Encoding ends with
    chunked, and it has no Content-Length (Gunicorn refuses both together) and no Expect (such a
    client waits for a 100 Continue that comes only once a thread has the request)."""
    codings = _TRANSFER_ENCODING.findall(head)
    if not codings or _CONTENT_LENGTH_OR_EXPECT.search(head):
        return False
    return bool(codings[-1].rsplit(b",", 1)[-1].strip(b" \t").lower() == b"chunked")


def chunked_body(data: bytes | bytearray, body_limit: int, cfg: Any) -> ChunkedBody | None:
    """The framing to check for a request whose head is in and says chunked; None for any other
    (or while the head is still coming). Lines and trailers are bounded as Gunicorn bounds them."""
    end = data.find(_CRLF * 2)
    if end < 0 or not chunked_framing(data[: end + 2]):
        return None
    line_limit = cfg.limit_request_field_size if cfg.limit_request_field_size > 0 else 8190
    trailer_limit = max(1, cfg.limit_request_fields) * (line_limit + 2)
    return ChunkedBody(end + 4, body_limit, line_limit, trailer_limit)


class _Part(Enum):
    SIZE = "size"  # a chunk-size line is next
    DATA = "data"  # the data of a chunk, then its CRLF
    TRAILERS = "trailers"  # the trailer section, after the last chunk


class ChunkedBody:
    """The framing of one chunked body, checked as its bytes arrive. `scan(data)` is called with
    all the connection's bytes so far (head included) each time more come, and goes on from where
    it stopped: True once the body is whole, False while more is awaited, or the Refusal.
    The main loop holds the whole body, so its framing is bounded too: chunks of a byte each, or
    long extensions, must not make a body of MAX_CONTENT_LENGTH many times that size in memory."""

    def __init__(self, start: int, body_limit: int, line_limit: int, trailer_limit: int) -> None:
        self.position = start
        self.end_limit = start + FRAMED_LIMIT * body_limit + line_limit  # where the last chunk must end
        self.body_limit = body_limit
        self.too_large = replace(
            BODY_TOO_LARGE, detail=f"The request body is larger than the limit of {body_limit} bytes."
        )
        self.line_limit = line_limit
        self.trailer_limit = trailer_limit
        self.part = _Part.SIZE
        self.size = 0
        self.total = 0

    def scan(self, data: bytes | bytearray) -> bool | Refusal:
        while True:
            if self.position > self.end_limit:
                return self.too_large
            if self.part is _Part.TRAILERS:
                return self._trailers(data)
            step = self._size_line(data) if self.part is _Part.SIZE else self._data(data)
            if step is not None:
                return step

    def _size_line(self, data: bytes | bytearray) -> bool | Refusal | None:
        end = data.find(_CRLF, self.position, self.position + self.line_limit + 2)
        if end < 0:
            line = bytes(data[self.position : self.position + self.line_limit + 1])
            if len(line) > self.line_limit or not _SIZE_LINE_START.fullmatch(line):
                return BAD_CHUNKED_BODY
            return False
        size, semicolon, extension = bytes(data[self.position : end]).partition(b";")
        if semicolon:
            size = size.rstrip(b" \t")
        if not _HEX.fullmatch(size) or (semicolon and not CHUNK_EXT_RE.fullmatch(b";" + extension)):
            return BAD_CHUNKED_BODY
        self.size = int(size, 16)
        if self.total + self.size > self.body_limit:
            return self.too_large
        self.position = end + 2
        self.part = _Part.DATA if self.size else _Part.TRAILERS
        return None

    def _data(self, data: bytes | bytearray) -> bool | Refusal | None:
        end = self.position + self.size
        terminator = bytes(data[end : end + 2])
        if not _CRLF.startswith(terminator):
            return BAD_CHUNKED_BODY
        if len(terminator) < 2:
            return False
        self.total += self.size
        self.position = end + 2
        self.part = _Part.SIZE
        return None

    def _trailers(self, data: bytes | bytearray) -> bool | Refusal:
        """The trailer section: an empty line, or header fields and then one."""
        section = bytes(data[self.position : self.position + self.trailer_limit + 1])
        if section.startswith(_CRLF):
            return True
        end = section.find(_CRLF * 2)
        lines = section[: end if end >= 0 else len(section)].split(_CRLF)
        whole, last = (lines, b"") if end >= 0 else (lines[:-1], lines[-1])
        if any(not _TRAILER_LINE.fullmatch(line) or _forbidden_trailer(line) for line in whole):
            return BAD_CHUNKED_BODY
        if end >= 0:
            return True
        if len(section) > self.trailer_limit or not _TRAILER_START.fullmatch(last):
            return BAD_CHUNKED_BODY
        return False


def _forbidden_trailer(line: bytes) -> bool:
    return line.split(b":", 1)[0].decode("latin-1").upper() in RFC9110_6_5_1_FORBIDDEN_TRAILER
