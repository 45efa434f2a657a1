"""The Xero stand-in itself, over real HTTP: OAuth with PKCE and rotating refresh tokens, connections,
the accounting calls, Idempotency-Key replays, rate limits, injected faults and signed webhooks."""

from __future__ import annotations

import base64
import hashlib
import json
import secrets
import threading
import time
import uuid
from collections.abc import Callable, Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any, ClassVar
from urllib.parse import parse_qs, urlsplit

import httpx
import pytest

from tests.xero.standin import XeroStandIn
from tests.xero.standin_store import OVERPAYMENT

REDIRECT = "http://localhost:5000/api/integrations/xero/callback"
SCOPE = "openid profile email accounting.transactions accounting.contacts offline_access"


@pytest.fixture
def make_xero() -> Iterator[Callable[..., XeroStandIn]]:
    """Start stand-ins with the given options; every one is stopped after the test."""
    started: list[XeroStandIn] = []

    def make(**options: Any) -> XeroStandIn:
        started.append(XeroStandIn(**options).start())
        return started[-1]

    yield make
    for standin in started:
        assert standin.errors == []
        standin.stop()


@pytest.fixture
def xero(make_xero: Callable[..., XeroStandIn]) -> XeroStandIn:
    return make_xero()


def pkce() -> tuple[str, str]:
    verifier = secrets.token_urlsafe(48)
    challenge = base64.urlsafe_b64encode(hashlib.sha256(verifier.encode()).digest()).rstrip(b"=").decode()
    return verifier, challenge


def token(xero: XeroStandIn, **form: str) -> httpx.Response:
    return httpx.post(f"{xero.url}/connect/token", data=form, auth=(xero.client_id, xero.client_secret))


def connect(xero: XeroStandIn) -> dict[str, Any]:
    """The whole authorisation: authorize, follow the code back, exchange it with the verifier."""
    verifier, challenge = pkce()
    query = {
        "response_type": "code",
        "client_id": xero.client_id,
        "redirect_uri": REDIRECT,
        "scope": SCOPE,
        "state": "s-123",
        "code_challenge": challenge,
        "code_challenge_method": "S256",
    }
    answer = httpx.get(xero.authorize_url, params=query)
    assert answer.status_code == 302
    location = urlsplit(answer.headers["Location"])
    assert f"{location.scheme}://{location.netloc}{location.path}" == REDIRECT
    back = {key: values[0] for key, values in parse_qs(location.query).items()}
    assert back["state"] == "s-123"
    grant = token(
        xero,
        grant_type="authorization_code",
        code=back["code"],
        redirect_uri=REDIRECT,
        code_verifier=verifier,
    )
    assert grant.status_code == 200, grant.text
    return grant.json()


def api(xero: XeroStandIn, tokens: dict[str, Any], tenant: str | None = None) -> httpx.Client:
    headers = {
        "Authorization": f"Bearer {tokens['access_token']}",
        "xero-tenant-id": tenant or xero.tenant_id,
    }
    return httpx.Client(base_url=f"{xero.url}/api.xro/2.0", headers=headers)


def refresh(xero: XeroStandIn, refresh_token: str) -> httpx.Response:
    return token(xero, grant_type="refresh_token", refresh_token=refresh_token)


def new_invoice(client: httpx.Client, number: str = "INV-1001", *, key: str | None = None) -> httpx.Response:
    contact_id = client.put("/Contacts", json={"Contacts": [{"Name": f"Family {number}"}]}).json()[
        "Contacts"
    ][0]["ContactID"]
    invoice = {
        "Type": "ACCREC",
        "Contact": {"ContactID": contact_id},
        "Date": "2026-12-01",
        "DueDate": "2026-12-31",
        "InvoiceNumber": number,
        "LineAmountTypes": "NoTax",
        "LineItems": [
            {
                "Description": "Term fee",
                "Quantity": 2,
                "UnitAmount": 75.005,
                "AccountCode": "200",
                "TaxType": "NONE",
            }
        ],
        "Status": "AUTHORISED",
    }
    headers = {"Idempotency-Key": key} if key else {}
    return client.put("/Invoices", json={"Invoices": [invoice]}, headers=headers)


def test_authorize_then_token_with_pkce(xero: XeroStandIn) -> None:
    tokens = connect(xero)
    assert tokens["token_type"] == "Bearer" and tokens["expires_in"] == 1800 and tokens["scope"] == SCOPE
    assert tokens["id_token"] is None and tokens["access_token"] and tokens["refresh_token"]
    assert xero.last_authorize is not None and xero.last_authorize["scope"] == SCOPE

    verifier, challenge = pkce()
    code = xero.issue_code(REDIRECT, challenge)
    wrong = token(
        xero, grant_type="authorization_code", code=code, redirect_uri=REDIRECT, code_verifier="x" * 50
    )
    assert (wrong.status_code, wrong.json()) == (400, {"error": "invalid_grant"})
    # A code is single use, even after a failed attempt.
    again = token(
        xero, grant_type="authorization_code", code=code, redirect_uri=REDIRECT, code_verifier=verifier
    )
    assert again.status_code == 400
    code = xero.issue_code(REDIRECT, challenge)
    other_uri = token(
        xero, grant_type="authorization_code", code=code, redirect_uri=REDIRECT + "x", code_verifier=verifier
    )
    assert other_uri.status_code == 400

    bad_client = httpx.post(
        f"{xero.url}/connect/token", data={"grant_type": "refresh_token"}, auth=("x", "y")
    )
    assert (bad_client.status_code, bad_client.json()) == (401, {"error": "invalid_client"})
    assert [call["status"] for call in xero.token_calls] == [200, 400, 400, 400, 401]
    assert xero.token_calls[1]["grant_type"] == "authorization_code" and xero.token_calls[1]["code"]

    query = {"response_type": "code", "client_id": xero.client_id, "redirect_uri": REDIRECT}
    assert (
        httpx.get(xero.authorize_url, params={**query, "scope": "openid accounting.transactions"}).status_code
        == 400
    )
    assert (
        httpx.get(xero.authorize_url, params={**query, "scope": SCOPE, "client_id": "nope"}).status_code
        == 400
    )


def test_refresh_tokens_rotate_with_a_grace_period(xero: XeroStandIn) -> None:
    first = connect(xero)["refresh_token"]
    second = refresh(xero, first).json()["refresh_token"]
    assert second != first
    # The previous token still works within the grace period, and its pair becomes the current one.
    third = refresh(xero, first)
    assert third.status_code == 200
    current = third.json()["refresh_token"]
    xero.advance(1801)
    assert refresh(xero, first).json() == {"error": "invalid_grant"}
    assert refresh(xero, second).status_code == 400  # displaced, and its grace ran out too
    latest = refresh(xero, current)
    assert latest.status_code == 200
    # The connections follow the chain to whatever token is current.
    assert api(xero, latest.json()).get(f"{xero.url}/connections").json()[0]["tenantId"] == xero.tenant_id

    xero.expire_refresh_tokens()
    gone = refresh(xero, latest.json()["refresh_token"])
    assert (gone.status_code, gone.json()) == (400, {"error": "invalid_grant"})


def test_without_grace_the_used_token_fails_at_once(make_xero: Callable[..., XeroStandIn]) -> None:
    xero = make_xero(grace_seconds=0)
    first = connect(xero)["refresh_token"]
    assert refresh(xero, first).status_code == 200
    assert refresh(xero, first).json() == {"error": "invalid_grant"}


def test_overlapping_refreshes_both_succeed_within_grace(xero: XeroStandIn) -> None:
    first = connect(xero)["refresh_token"]
    xero.token_delay = 0.2
    answers: list[int] = []
    threads = [
        threading.Thread(target=lambda: answers.append(refresh(xero, first).status_code)) for _ in range(2)
    ]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert answers == [200, 200]
    assert [call["refresh_token"] for call in xero.token_calls[1:]] == [first, first]


def test_connections_access_expiry_and_revocation(make_xero: Callable[..., XeroStandIn]) -> None:
    other = {"tenantId": str(uuid.uuid4()), "tenantName": "Second School"}
    xero = make_xero(tenants=[{"tenantId": str(uuid.uuid4()), "tenantName": "Greenfield School Ltd"}, other])
    tokens = connect(xero)
    with api(xero, tokens) as client:
        connections = client.get(f"{xero.url}/connections").json()
        assert [c["tenantName"] for c in connections] == ["Greenfield School Ltd", "Second School"]
        assert {"id", "authEventId", "tenantType", "createdDateUtc", "updatedDateUtc"} <= set(connections[0])
        assert client.get("/Invoices/nope", headers={"xero-tenant-id": str(uuid.uuid4())}).status_code == 403

        xero.expire_access_tokens()
        expired = client.get("/Invoices/nope")
        assert expired.status_code == 401 and expired.json()["Detail"] == "TokenExpired"

    fresh = refresh(xero, tokens["refresh_token"]).json()
    with api(xero, fresh) as client:
        assert client.get("/Invoices/nope").status_code == 404
        revoked = httpx.post(
            f"{xero.url}/connect/revocation",
            data={"token": fresh["refresh_token"]},
            auth=(xero.client_id, xero.client_secret),
        )
        assert (revoked.status_code, revoked.content) == (200, b"")
        assert xero.revoked == [fresh["refresh_token"]]
        assert client.get(f"{xero.url}/connections").status_code == 401
    assert refresh(xero, fresh["refresh_token"]).status_code == 400


def test_an_idempotency_key_replays_the_first_answer(xero: XeroStandIn) -> None:
    with api(xero, connect(xero)) as client:
        first = new_invoice(client, key="fee-41-v1")
        assert first.status_code == 200
        invoice = first.json()["Invoices"][0]
        assert (invoice["Total"], invoice["AmountDue"], invoice["Status"]) == (150.01, 150.01, "AUTHORISED")
        assert (
            invoice["DateString"] == "2026-12-01T00:00:00" and invoice["Date"] == "/Date(1796083200000+0000)/"
        )
        replay = client.put("/Invoices", json={"Invoices": []}, headers={"Idempotency-Key": "fee-41-v1"})
        assert (replay.status_code, replay.json()) == (200, first.json())
        assert list(xero.invoices) == [invoice["InvoiceID"]]
        writes = [r for r in xero.requests if r["path"].endswith("/Invoices")]
        assert [(r["idempotency_key"], r["status"]) for r in writes] == [("fee-41-v1", 200)] * 2

        again = {"Type": "ACCREC", "Contact": invoice["Contact"], "InvoiceNumber": "INV-1001"}
        lines = [{"Description": "Trip", "UnitAmount": 5, "AccountCode": "200"}]
        duplicate = client.put("/Invoices", json={"Invoices": [{**again, "LineItems": lines}]})
        assert duplicate.status_code == 400
        messages = [e["Message"] for e in duplicate.json()["Elements"][0]["ValidationErrors"]]
        assert messages == ["Invoice # must be unique."]
        same_name = client.put("/Contacts", json={"Contacts": [{"Name": "Family INV-1001"}]})
        assert same_name.status_code == 400 and "already assigned" in same_name.text
        assert client.put("/Invoices", content=b"{not json").status_code == 400


def test_injected_faults(xero: XeroStandIn) -> None:
    with api(xero, connect(xero)) as client:
        xero.rate_limit_next(1, retry_after=7)
        xero.fail_next(1)
        xero.slow_next(1, 0.3)
        started = time.monotonic()
        limited = client.get("/Invoices/nope")  # slowed first, then answered with its status
        assert time.monotonic() - started >= 0.3
        assert (limited.status_code, limited.headers["Retry-After"]) == (429, "7")
        failed = client.get("/Invoices/nope")
        assert failed.status_code == 503 and failed.headers["Content-Type"] == "application/json"
        assert client.get("/Invoices/nope").status_code == 404
        assert [r["status"] for r in xero.requests] == [429, 503, 404]


def test_the_per_minute_limit_is_per_tenant(make_xero: Callable[..., XeroStandIn]) -> None:
    other = str(uuid.uuid4())
    xero = make_xero(rate_per_minute=3, tenants=[{"tenantId": str(uuid.uuid4())}, {"tenantId": other}])
    with api(xero, connect(xero)) as client:
        assert [client.get("/Invoices/nope").status_code for _ in range(3)] == [404] * 3
        over = client.get("/Invoices/nope")
        assert over.status_code == 429 and 1 <= int(over.headers["Retry-After"]) <= 60
        assert client.get("/Invoices/nope", headers={"xero-tenant-id": other}).status_code == 404
        xero.advance(60)
        assert client.get("/Invoices/nope").status_code == 404


def test_payments_against_an_invoice(xero: XeroStandIn) -> None:
    with api(xero, connect(xero)) as client:
        invoice_id = new_invoice(client).json()["Invoices"][0]["InvoiceID"]

        def pay(amount: float) -> httpx.Response:
            payment = {"Invoice": {"InvoiceID": invoice_id}, "Account": {"Code": "090"}, "Date": "2026-12-02"}
            return client.put("/Payments", json={"Payments": [{**payment, "Amount": amount}]})

        over = pay(200)
        assert over.status_code == 400
        assert over.json()["Elements"][0]["ValidationErrors"] == [{"Message": OVERPAYMENT}]
        paid = pay(100).json()["Payments"][0]
        assert (paid["Status"], paid["Amount"], paid["Invoice"]["InvoiceNumber"]) == (
            "AUTHORISED",
            100.0,
            "INV-1001",
        )

        office = xero.record_payment_in_xero(invoice_id, 50.01)
        invoice = client.get(f"/Invoices/{invoice_id}").json()["Invoices"][0]
        assert (invoice["Status"], invoice["AmountPaid"], invoice["AmountDue"]) == ("PAID", 150.01, 0.0)
        assert [p["PaymentID"] for p in invoice["Payments"]] == [paid["PaymentID"], office]
        assert pay(1).status_code == 400  # a PAID invoice takes no more

        deleted = client.post(f"/Payments/{office}", json={"Payments": [{"Status": "DELETED"}]})
        assert deleted.json()["Payments"][0]["Status"] == "DELETED"
        invoice = client.get(f"/Invoices/{invoice_id}").json()["Invoices"][0]
        assert (invoice["Status"], invoice["AmountDue"], len(invoice["Payments"])) == ("AUTHORISED", 50.01, 1)
        assert client.get(f"/Invoices/{uuid.uuid4()}").status_code == 404


class _Receiver(BaseHTTPRequestHandler):
    received: ClassVar[list[tuple[dict[str, str], bytes]]] = []

    def do_POST(self) -> None:
        body = self.rfile.read(int(self.headers["Content-Length"]))
        self.received.append((dict(self.headers.items()), body))
        self.send_response(200)
        self.send_header("Content-Length", "0")
        self.end_headers()

    def log_message(self, format: str, *args: Any) -> None:
        """Quiet."""


def test_signed_webhooks(xero: XeroStandIn) -> None:
    # RFC 4231, test case 2.
    known = "5bdcc146bf60754e6a042426089575c75a003f089d2739839dec58b964ec3843"
    assert (
        XeroStandIn.sign(b"what do ya want for nothing?", "Jefe")
        == base64.b64encode(bytes.fromhex(known)).decode()
    )

    receiver = ThreadingHTTPServer(("127.0.0.1", 0), _Receiver)
    threading.Thread(target=receiver.serve_forever, args=(0.05,), daemon=True).start()
    try:
        target = f"http://127.0.0.1:{receiver.server_address[1]}/api/integrations/xero/webhook"
        event = xero.invoice_event("inv-1")
        assert xero.send_webhook(target, [event]).status_code == 200
        xero.send_webhook(target, [], signature="forged")
    finally:
        receiver.shutdown()
        receiver.server_close()
    (headers, body), (_, intent) = _Receiver.received
    assert headers["x-xero-signature"] == XeroStandIn.sign(body, xero.webhook_key)
    envelope = json.loads(body)
    assert (
        envelope["events"] == [event] and envelope["firstEventSequence"] == envelope["lastEventSequence"] == 1
    )
    assert event["tenantId"] == xero.tenant_id and event["resourceUrl"].endswith(
        "/api.xro/2.0/Invoices/inv-1"
    )
    assert json.loads(intent)["events"] == [] and b" " not in intent
