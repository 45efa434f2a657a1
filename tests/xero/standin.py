"""A stand-in for Xero on 127.0.0.1: its identity server (OAuth 2.0 codes with PKCE, refresh tokens
that rotate with a grace period, revocation), connections, and the accounting API's Contacts, Invoices
and Payments (Xero's shapes and validation errors, Idempotency-Key replays, a per-organisation rate
limit). Tests steer it (fail, rate-limit or slow the next calls, expire tokens, pay "in Xero"), watch
it (`token_calls`, `revoked`, `requests`, the records) and have it send signed webhooks. Used as
XERO_IDENTITY_URL = XERO_API_URL = `xero.url` and XERO_AUTHORIZE_URL = `xero.authorize_url`.
The rules live in `standin_store`; this module is the HTTP face, the controls and the one lock.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import math
import re
import secrets
import threading
import time
import uuid
from collections import defaultdict, deque
from collections.abc import Callable
from dataclasses import dataclass, field
from email.message import Message
from http import HTTPStatus
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from types import TracebackType
from typing import Any
from urllib.parse import parse_qs, urlencode, urlsplit

import httpx

from tests.xero.standin_store import Grants, Json, Ledger, XeroError, iso_now, not_found, oauth_error, problem

API = "/api.xro/2.0/"
DEFAULT_SCOPE = "openid profile email accounting.transactions accounting.contacts offline_access"
WRITES = frozenset({"POST", "PUT"})
WINDOW = 60.0  # the rate limit's rolling window, in seconds


def _path(template: str) -> re.Pattern[str]:
    """`Invoices/{id}` as a case-insensitive pattern (Xero's paths are case-insensitive)."""
    return re.compile(re.escape(template).replace(re.escape("{id}"), "(?P<id>[^/]+)"), re.IGNORECASE)


# The accounting API: (methods, path after /api.xro/2.0/, the Ledger method). A method is called with
# the tenant, then the {id} when the path has one, then the JSON body for a write.
API_ROUTES: tuple[tuple[frozenset[str], re.Pattern[str], str], ...] = (
    (WRITES, _path("Contacts"), "put_contacts"),
    (frozenset({"GET"}), _path("Contacts/{id}"), "get_contact"),
    (WRITES, _path("Invoices"), "put_invoices"),
    (frozenset({"GET"}), _path("Invoices/{id}"), "get_invoice"),
    (WRITES, _path("Payments"), "put_payments"),
    (frozenset({"GET"}), _path("Payments/{id}"), "get_payment"),
    (frozenset({"POST"}), _path("Payments/{id}"), "delete_payment"),
)


@dataclass(frozen=True)
class Request:
    """One HTTP request as the handler read it."""

    method: str
    path: str
    query: dict[str, str]
    headers: Message
    body: bytes


@dataclass(frozen=True)
class Reply:
    """One HTTP answer: status, body bytes and extra headers (Content-Type is added for a body)."""

    status: int
    payload: bytes = b""
    headers: dict[str, str] = field(default_factory=dict)

    @classmethod
    def of(cls, status: int, body: Any, headers: dict[str, str] | None = None) -> Reply:
        """A JSON answer."""
        return cls(status, json.dumps(body).encode(), headers or {})

    @classmethod
    def error(cls, error: XeroError) -> Reply:
        """The answer a raised `XeroError` stands for."""
        return cls.of(error.status, error.body, error.headers)


def _problem_reply(status: int, detail: str, headers: dict[str, str] | None = None) -> Reply:
    phrase = {known.value: known.phrase for known in HTTPStatus}.get(status, "Error")
    return Reply.of(status, {"Type": None, "Title": phrase, "Status": status, "Detail": detail}, headers)


def s256(verifier: str) -> str:
    """PKCE S256: base64url(sha256(verifier)) without padding."""
    digest = hashlib.sha256(verifier.encode()).digest()
    return base64.urlsafe_b64encode(digest).rstrip(b"=").decode("ascii")


class XeroStandIn:
    """Xero's identity server and accounting API on 127.0.0.1, for tests. See the module docstring."""

    def __init__(
        self,
        *,
        client_id: str = "homeroom-test-client",
        client_secret: str = "test-secret",  # noqa: S107  (a test client)
        webhook_key: str = "test-webhook-key",
        tenants: list[dict[str, Any]] | None = None,
        access_ttl: int = 1800,
        grace_seconds: int = 1800,
        rate_per_minute: int = 60,
    ) -> None:
        self.client_id = client_id
        self.client_secret = client_secret
        self.webhook_key = webhook_key
        self.tenants = tenants or [{"tenantId": str(uuid.uuid4()), "tenantName": "Greenfield School Ltd"}]
        self.tenant_id: str = self.tenants[0]["tenantId"]
        self.rate_per_minute = rate_per_minute
        self.token_delay: float = 0.0
        self.url = ""
        # observation, appended under the lock
        self.token_calls: list[dict[str, Any]] = []
        self.revoked: list[str] = []
        self.requests: list[dict[str, Any]] = []
        self.last_authorize: dict[str, str] | None = None
        # Connections this Xero user made in earlier authorisations (another organisation, say):
        # listed by GET /connections as real Xero does, each with its own authEventId.
        self.earlier_connections: list[dict[str, Any]] = []
        self.errors: list[str] = []  # exceptions inside the stand-in itself (each answered 500)
        self._lock = threading.Lock()
        self._grants = Grants(self.tenants, access_ttl=access_ttl, grace_seconds=grace_seconds)
        self._ledger = Ledger()
        self.contacts = self._ledger.contacts
        self.invoices = self._ledger.invoices
        self.payments = self._ledger.payments
        self._clock_offset = 0.0
        self._slow: deque[float] = deque()
        self._faults: deque[Reply] = deque()
        self._window: defaultdict[str, deque[float]] = defaultdict(deque)
        self._idempotent: dict[tuple[str, str], Reply] = {}
        self._sequence = 0
        self._server: _Server | None = None
        self._thread: threading.Thread | None = None
        self._routes: dict[tuple[str, str], Callable[[Request], Reply]] = {
            ("GET", "/identity/connect/authorize"): self._authorize,
            ("POST", "/connect/token"): self._token,
            ("POST", "/connect/revocation"): self._revocation,
            ("GET", "/connections"): self._connections,
        }

    # --- life -------------------------------------------------------------------------------------

    def start(self) -> XeroStandIn:
        """Listen on 127.0.0.1 at a free port and serve in a daemon thread."""
        self._server = _Server(self)
        self.url = f"http://127.0.0.1:{self._server.server_address[1]}"
        serve = self._server.serve_forever
        self._thread = threading.Thread(target=serve, args=(0.05,), name="xero-standin", daemon=True)
        self._thread.start()
        return self

    def stop(self) -> None:
        """Stop serving and close the socket."""
        if self._server is not None:
            self._server.shutdown()
            self._server.server_close()
        if self._thread is not None:
            self._thread.join(timeout=5)
        self._server = self._thread = None

    def __enter__(self) -> XeroStandIn:
        return self.start()

    def __exit__(
        self, kind: type[BaseException] | None, error: BaseException | None, trace: TracebackType | None
    ) -> None:
        self.stop()

    @property
    def authorize_url(self) -> str:
        """Where a user is sent to authorise (XERO_AUTHORIZE_URL)."""
        return f"{self.url}/identity/connect/authorize"

    # --- controls ---------------------------------------------------------------------------------

    def now(self) -> float:
        """The stand-in's clock (monotonic seconds, moved on by `advance`)."""
        return time.monotonic() + self._clock_offset

    def advance(self, seconds: float) -> None:
        """Move the clock on: codes, access tokens, grace periods and the rate window age that much."""
        with self._lock:
            self._clock_offset += seconds

    def expire_refresh_tokens(self) -> None:
        """Every refresh token becomes invalid (invalid_grant), as after 60 days unused or a revoked app."""
        with self._lock:
            self._grants.expire_refresh_tokens()

    def expire_access_tokens(self) -> None:
        """Every access token issued so far is expired: the API answers 401 until a refresh."""
        with self._lock:
            self._grants.expire_access_tokens(self.now())

    def fail_next(self, count: int, status: int = 503) -> None:
        """The next `count` accounting API calls answer `status` with a JSON error body."""
        with self._lock:
            self._faults.extend([_problem_reply(status, "Injected fault")] * count)

    def rate_limit_next(self, count: int, retry_after: int = 1) -> None:
        """The next `count` accounting API calls answer 429 with `Retry-After: retry_after`."""
        headers = {"Retry-After": str(retry_after), "X-Rate-Limit-Problem": "minute"}
        with self._lock:
            self._faults.extend([_problem_reply(429, "Rate limit exceeded", headers)] * count)

    def slow_next(self, count: int, seconds: float) -> None:
        """The next `count` accounting API calls sleep `seconds` before anything else."""
        with self._lock:
            self._slow.extend([seconds] * count)

    def issue_code(self, redirect_uri: str, code_challenge: str | None, *, scope: str = DEFAULT_SCOPE) -> str:
        """An authorisation code, as the authorize endpoint would redirect with."""
        with self._lock:
            return self._grants.issue_code(redirect_uri, code_challenge, scope, self.now())

    def record_payment_in_xero(self, invoice_id: str, amount: float, date: str = "2026-12-03") -> str:
        """A payment typed into Xero by the office (account 090): returns its PaymentID.

        Xero's own rules apply: ValueError when the invoice is not AUTHORISED or `amount` is over
        what is due; KeyError for an unknown invoice.
        """
        payment = {"Invoice": {"InvoiceID": invoice_id}, "Account": {"Code": "090"}, "Date": date}
        with self._lock:
            tenant = self._ledger.owner[invoice_id]
            try:
                answer = self._ledger.put_payments(tenant, {"Payments": [{**payment, "Amount": amount}]})
            except XeroError as error:
                raise ValueError(json.dumps(error.body)) from None
        return str(answer["Payments"][0]["PaymentID"])

    # --- webhooks ---------------------------------------------------------------------------------

    def invoice_event(self, invoice_id: str) -> dict[str, Any]:
        """A webhook event saying an invoice changed (in its own tenant; the first for an unknown id)."""
        with self._lock:
            tenant = self._ledger.owner.get(invoice_id, self.tenant_id)
        return {
            "resourceUrl": f"{self.url}{API}Invoices/{invoice_id}",
            "resourceId": invoice_id,
            "eventDateUtc": iso_now(),
            "eventType": "UPDATE",
            "eventCategory": "INVOICE",
            "tenantId": tenant,
            "tenantType": "ORGANISATION",
        }

    def webhook_body(self, events: list[dict[str, Any]]) -> bytes:
        """Xero's webhook envelope as compact JSON; sequences run on across calls (0, 0 when empty)."""
        with self._lock:
            first = self._sequence + 1 if events else 0
            self._sequence += len(events)
            last = self._sequence if events else 0
        envelope = {
            "events": events,
            "firstEventSequence": first,
            "lastEventSequence": last,
            "entropy": secrets.token_hex(10).upper(),
        }
        return json.dumps(envelope, separators=(",", ":")).encode()

    @staticmethod
    def sign(body: bytes, key: str) -> str:
        """Xero's webhook signature: base64(HMAC-SHA256(key, body))."""
        return base64.b64encode(hmac.new(key.encode(), body, hashlib.sha256).digest()).decode("ascii")

    def send_webhook(
        self,
        target_url: str,
        events: list[dict[str, Any]],
        *,
        key: str | None = None,
        signature: str | None = None,
    ) -> httpx.Response:
        """POST a signed webhook (signed with `key`, else the webhook key, unless `signature` is given)."""
        body = self.webhook_body(events)
        signed = signature if signature is not None else self.sign(body, key or self.webhook_key)
        headers = {"Content-Type": "application/json", "x-xero-signature": signed}
        return httpx.post(target_url, content=body, headers=headers, timeout=10)

    # --- HTTP -------------------------------------------------------------------------------------

    def handle(self, request: Request) -> Reply:
        """Answer one request (called by the server's handler threads)."""
        if request.path.startswith(API):
            return self._accounting(request)
        route = self._routes.get((request.method, request.path.rstrip("/")))
        if route is None and request.method == "DELETE" and request.path.startswith("/connections/"):
            route = self._disconnect
        try:
            if route is None:
                raise not_found()
            return route(request)
        except XeroError as error:
            return Reply.error(error)

    def note_error(self, text: str) -> None:
        """Keep an exception raised inside the stand-in (a bug here, not in the code under test)."""
        with self._lock:
            self.errors.append(text)

    def _authorize(self, request: Request) -> Reply:
        query = request.query
        with self._lock:
            self.last_authorize = dict(query)
        redirect_uri, state = query.get("redirect_uri", ""), query.get("state")
        if query.get("client_id") != self.client_id or not redirect_uri:
            raise oauth_error("unauthorized_client")
        if query.get("response_type") != "code":
            raise oauth_error("unsupported_response_type")
        if "offline_access" not in query.get("scope", "").split():
            raise oauth_error("invalid_scope")
        challenge = query.get("code_challenge")
        if challenge and query.get("code_challenge_method", "plain") != "S256":
            raise oauth_error("invalid_request")
        code = self.issue_code(redirect_uri, challenge, scope=query["scope"])
        answer = urlencode({"code": code, **({"state": state} if state is not None else {})})
        separator = "&" if "?" in redirect_uri else "?"
        return Reply(302, headers={"Location": f"{redirect_uri}{separator}{answer}"})

    def _client_ok(self, request: Request, form: dict[str, str]) -> bool:
        scheme, _, encoded = (request.headers.get("Authorization") or "").partition(" ")
        client_id, secret = form.get("client_id", ""), form.get("client_secret", "")
        if scheme.lower() == "basic":
            try:
                client_id, _, secret = base64.b64decode(encoded, validate=True).decode().partition(":")
            except ValueError:
                return False
        same_id = hmac.compare_digest(client_id, self.client_id)
        return hmac.compare_digest(secret, self.client_secret) and same_id

    def _token(self, request: Request) -> Reply:
        if self.token_delay > 0:
            time.sleep(self.token_delay)
        form = _form(request.body)
        grant_type = form.get("grant_type")
        with self._lock:
            try:
                if not self._client_ok(request, form):
                    raise oauth_error("invalid_client", 401)
                reply = Reply.of(200, self._grant(grant_type, form))
            except XeroError as error:
                reply = Reply.error(error)
            self.token_calls.append(
                {
                    "grant_type": grant_type,
                    "refresh_token": form.get("refresh_token"),
                    "code": form.get("code"),
                    "status": reply.status,
                    "at": time.time(),
                }
            )
        return reply

    def _grant(self, grant_type: str | None, form: dict[str, str]) -> Json:
        """Under the lock: the token answer for one grant type."""
        if grant_type == "authorization_code":
            verifier = form.get("code_verifier")
            hashed = s256(verifier) if verifier else None
            return self._grants.exchange_code(
                form.get("code", ""), form.get("redirect_uri", ""), hashed, self.now()
            )
        if grant_type == "refresh_token":
            return self._grants.refresh_grant(form.get("refresh_token", ""), self.now())
        raise oauth_error("unsupported_grant_type")

    def _revocation(self, request: Request) -> Reply:
        form = _form(request.body)
        with self._lock:
            if not self._client_ok(request, form):
                raise oauth_error("invalid_client", 401)
            if not form.get("token"):
                raise oauth_error("invalid_request")
            self.revoked.append(form["token"])
            self._grants.revoke(form["token"])
        return Reply(200)

    def _connections(self, request: Request) -> Reply:
        with self._lock:
            chain = self._grants.chain_for(request.headers.get("Authorization"), self.now())
            return Reply.of(200, [*chain.connections, *self.earlier_connections])

    def _disconnect(self, request: Request) -> Reply:
        """`DELETE /connections/{id}`: the organisation is no longer connected to that grant."""
        connection_id = request.path.rstrip("/").rsplit("/", 1)[-1]
        with self._lock:
            chain = self._grants.chain_for(request.headers.get("Authorization"), self.now())
            kept = [c for c in chain.connections if c["id"] != connection_id]
            if len(kept) == len(chain.connections):
                raise not_found()
            chain.connections[:] = kept
        return Reply(204)

    def _accounting(self, request: Request) -> Reply:
        """An accounting API call: faults, then auth, tenant, rate limit, idempotency, the ledger."""
        try:
            body: Any = json.loads(request.body) if request.body.strip() else None
            body_ok = True
        except ValueError:
            body, body_ok = None, False
        with self._lock:
            delay = self._slow.popleft() if self._slow else 0.0
            fault = self._faults.popleft() if self._faults else None
        if delay:
            time.sleep(delay)
        reply = fault or self._api_call(request, body, body_ok)
        record = {
            "method": request.method,
            "path": request.path,
            "idempotency_key": request.headers.get("Idempotency-Key"),
            "tenant_id": request.headers.get("xero-tenant-id"),
            "body": body,
            "status": reply.status,
        }
        with self._lock:
            self.requests.append(record)
        return reply

    def _api_call(self, request: Request, body: Any, body_ok: bool) -> Reply:
        key = request.headers.get("Idempotency-Key") if request.method in WRITES else None
        with self._lock:
            try:
                tenant = self._admit(request)
                if not body_ok:
                    raise problem(400, "BadRequest", "The request body is not valid JSON")
            except XeroError as error:
                return Reply.error(error)
            if key and (tenant, key) in self._idempotent:
                return self._idempotent[tenant, key]
            try:
                reply = Reply.of(200, self._route(request, tenant, body))
            except XeroError as error:
                reply = Reply.error(error)
            if key:
                self._idempotent[tenant, key] = reply
            return reply

    def _admit(self, request: Request) -> str:
        """Under the lock: the token (401), the tenant (403) and the per-minute limit (429)."""
        now = self.now()
        chain = self._grants.chain_for(request.headers.get("Authorization"), now)
        tenant = request.headers.get("xero-tenant-id") or ""
        if tenant not in {connection["tenantId"] for connection in chain.connections}:
            raise problem(403, "Forbidden", "AuthenticationUnsuccessful")
        window = self._window[tenant]
        while window and window[0] <= now - WINDOW:
            window.popleft()
        if len(window) >= self.rate_per_minute:
            retry_after = max(1, math.ceil(window[0] + WINDOW - now))
            headers = {"Retry-After": str(retry_after), "X-Rate-Limit-Problem": "minute"}
            raise XeroError(429, problem(429, "Too Many Requests", "Rate limit exceeded").body, headers)
        window.append(now)
        return tenant

    def _route(self, request: Request, tenant: str, body: Any) -> Json:
        rest = request.path[len(API) :].rstrip("/")
        for methods, pattern, name in API_ROUTES:
            found = pattern.fullmatch(rest)
            if found and request.method in methods:
                args = [*found.groups(), *([body] if request.method in WRITES else [])]
                return getattr(self._ledger, name)(tenant, *args)
        raise not_found()


def _form(body: bytes) -> dict[str, str]:
    """A form-encoded body, the last value of each field."""
    return {key: values[-1] for key, values in parse_qs(body.decode("utf-8", "replace")).items()}


class _Server(ThreadingHTTPServer):
    daemon_threads = True

    def __init__(self, standin: XeroStandIn) -> None:
        super().__init__(("127.0.0.1", 0), _Handler)
        self.standin = standin

    def handle_error(self, request: Any, client_address: Any) -> None:
        """Quiet: a client that hung up is not worth a traceback on stderr."""


class _Handler(BaseHTTPRequestHandler):
    server: _Server

    def _serve(self) -> None:
        parts = urlsplit(self.path)
        length = int(self.headers.get("Content-Length") or 0)
        body = self.rfile.read(length) if length else b""
        query = {key: values[-1] for key, values in parse_qs(parts.query).items()}
        request = Request(self.command, parts.path, query, self.headers, body)
        try:
            reply = self.server.standin.handle(request)
        except Exception as error:  # noqa: BLE001  (a bug in the stand-in: answered, and kept for the test)
            self.server.standin.note_error(f"{request.method} {request.path}: {error!r}")
            reply = _problem_reply(500, repr(error))
        try:
            self.send_response(reply.status)
            for name, value in reply.headers.items():
                self.send_header(name, value)
            if reply.payload:
                self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(reply.payload)))
            self.end_headers()
            self.wfile.write(reply.payload)
        except OSError:
            pass  # the client gave up (a timeout test)

    do_GET = do_POST = do_PUT = do_DELETE = _serve  # noqa: N815  (the names http.server dispatches to)

    def log_message(self, format: str, *args: Any) -> None:
        """Quiet: nothing on stderr."""
