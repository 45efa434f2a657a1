"""Invoices, payments and reversals reach Xero through jobs, once each; Xero's limits, failures and
dead letters; payments recorded in Xero come back through signed webhooks."""

from __future__ import annotations

import time
import uuid
from typing import Any

import pytest
from flask import Flask
from sqlalchemy import text

from backend.core.extensions import db
from backend.xero import sync
from tests.conftest import AppFactory, auth_headers
from tests.school import World
from tests.xero.conftest import (
    connect,
    issued_invoice,
    jobs_by_status,
    pay,
    run_jobs,
    xero_settings,
    xero_writes,
)
from tests.xero.standin import XeroStandIn

WEBHOOKS = "/api/integrations/xero/webhooks"


def _xero_invoice(xero: XeroStandIn, number: str) -> dict[str, Any]:
    [invoice] = [i for i in xero.invoices.values() if i["InvoiceNumber"] == number]
    return invoice


def _post_webhook(
    world: World, xero: XeroStandIn, events: list[dict[str, Any]], key: str | None = None
) -> Any:
    body = xero.webhook_body(events)
    signature = xero.sign(body, key or xero.webhook_key)
    return world.client.post(
        WEBHOOKS, data=body, content_type="application/json", headers={"x-xero-signature": signature}
    )


def test_invoice_payment_and_reversal_reach_xero_once_each(
    world: World, xero: XeroStandIn, app: Flask
) -> None:
    connect(world, xero)
    invoice_id = issued_invoice(world)
    payment = pay(world, invoice_id, 5_000)
    run_jobs(app)
    run_jobs(app)  # a second runner pass finds nothing more to send

    invoice = _xero_invoice(xero, "INV-1")
    assert invoice["Type"] == "ACCREC" and invoice["Status"] == "AUTHORISED"
    assert invoice["Total"] == 150.50 and invoice["AmountPaid"] == 50.0
    assert {line["AccountCode"] for line in invoice["LineItems"]} == {"200"}
    assert {line["TaxType"] for line in invoice["LineItems"]} == {"NONE"}
    [contact] = xero.contacts.values()
    assert world.accounts["parent"].email in contact["Name"]
    [xero_payment] = xero.payments.values()
    assert xero_payment["Amount"] == 50.0
    for path in ("/Contacts", "/Invoices", "/Payments"):
        writes = xero_writes(xero, path)
        assert len(writes) == 1, path
        assert writes[0]["idempotency_key"].startswith("homeroom-")
    assert jobs_by_status(app) == {"done": 2}

    reversed_ = world.client.post(
        f"/api/payments/{payment['id']}/reverse",
        json={"reason": "Card charged back"},
        headers=world.as_("admin"),
    )
    assert reversed_.status_code == 200
    run_jobs(app)
    assert xero.payments[xero_payment["PaymentID"]]["Status"] == "DELETED"
    assert _xero_invoice(xero, "INV-1")["AmountDue"] == 150.50
    status = world.client.get("/api/integrations/xero/status", headers=world.as_("admin")).get_json()
    assert status["last_sync_at"] and status["jobs"] == {"queued": 0, "dead": 0}


def test_the_school_codes_are_used_and_one_contact_serves_every_invoice(
    world: World, xero: XeroStandIn, app: Flask
) -> None:
    connect(world, xero)
    world.client.patch(
        "/api/integrations/xero/settings",
        json={"sales_account_code": "4000", "tax_type": "EXEMPTOUTPUT"},
        headers=world.as_("admin"),
    )
    issued_invoice(world, "INV-A")
    issued_invoice(world, "INV-B")
    run_jobs(app)
    assert len(xero.contacts) == 1
    for number in ("INV-A", "INV-B"):
        lines = _xero_invoice(xero, number)["LineItems"]
        assert {(line["AccountCode"], line["TaxType"]) for line in lines} == {("4000", "EXEMPTOUTPUT")}


def test_nothing_is_queued_for_a_school_that_has_not_connected(
    world: World, xero: XeroStandIn, app: Flask
) -> None:
    issued_invoice(world)
    assert jobs_by_status(app) == {}
    connect(world, xero)
    synced = world.client.post("/api/integrations/xero/sync", headers=world.as_("admin"))
    assert synced.status_code == 202 and synced.get_json() == {
        "invoices_queued": 1,
        "payments_queued": 0,
        "reversals_queued": 0,
    }
    run_jobs(app)
    assert len(xero_writes(xero, "/Invoices")) == 1
    again = world.client.post("/api/integrations/xero/sync", headers=world.as_("admin")).get_json()
    assert again == {"invoices_queued": 0, "payments_queued": 0, "reversals_queued": 0}


def test_retry_after_is_honoured_by_every_runner(world: World, xero: XeroStandIn, app: Flask) -> None:
    connect(world, xero)
    issued_invoice(world)
    xero.rate_limit_next(1, retry_after=2)
    run_jobs(app)
    limited = [r for r in xero.requests if r["status"] == 429]
    assert len(limited) == 1
    assert jobs_by_status(app) == {"queued": 1}
    with app.app_context():
        paused, error = db.session.execute(
            text("SELECT paused_until, jobs.last_error FROM jobs, xero_connections")
        ).one()
        db.session.remove()
    assert paused is not None and "429" in error
    calls = len(xero.requests)
    run_jobs(app)  # still inside Retry-After: no call at all
    assert len(xero.requests) == calls
    time.sleep(2.1)
    run_jobs(app)
    assert len(xero_writes(xero, "/Invoices")) == 1
    assert jobs_by_status(app) == {"done": 1}


def test_a_failing_xero_ends_in_a_dead_letter_that_an_operator_retries(
    world: World, xero: XeroStandIn, app: Flask
) -> None:
    connect(world, xero)
    issued_invoice(world)
    xero.fail_next(3, status=503)
    deadline = time.monotonic() + 10
    while jobs_by_status(app) != {"dead": 1} and time.monotonic() < deadline:
        run_jobs(app)
        time.sleep(0.05)
    assert jobs_by_status(app) == {"dead": 1}
    assert len([r for r in xero.requests if r["status"] == 503]) == 3

    overview = world.client.get("/api/ops/jobs", headers=world.as_("operator")).get_json()
    [dead] = overview["dead"]
    assert dead["kind"] == "xero.invoice" and dead["attempts"] == 3 and "503" in dead["last_error"]
    assert world.client.get("/api/health").get_json()["components"]["xero"]["status"] == "degraded"
    assert world.client.get("/api/ops/jobs", headers=world.as_("admin")).status_code == 403

    retried = world.client.post(f"/api/ops/jobs/{dead['id']}/retry", headers=world.as_("operator"))
    assert retried.status_code == 200 and retried.get_json()["status"] == "queued"
    assert (
        world.client.post(f"/api/ops/jobs/{dead['id']}/retry", headers=world.as_("operator")).status_code
        == 409
    )
    run_jobs(app)
    assert jobs_by_status(app) == {"done": 1}
    assert len(xero_writes(xero, "/Invoices")) == 1
    assert (
        world.client.post(f"/api/ops/jobs/{uuid.uuid4()}/discard", headers=world.as_("operator")).status_code
        == 404
    )


def test_an_organisation_that_withdrew_access_asks_for_a_reconnect(
    world: World, xero: XeroStandIn, app: Flask
) -> None:
    connect(world, xero)
    # The organisation no longer grants Homeroom access, though the tokens still work: Xero answers
    # 403, which neither a retry nor a refresh fixes; only the admin, by connecting again.
    with app.app_context():
        db.session.execute(text("UPDATE xero_connections SET tenant_id = 'not-granted'"))
        db.session.commit()
        db.session.remove()
    issued_invoice(world, "INV-1")
    issued_invoice(world, "INV-2")
    for _ in range(3):
        run_jobs(app)
    assert len([r for r in xero.requests if r["status"] == 403]) == 1  # one call, then waiting
    assert [c["grant_type"] for c in xero.token_calls] == ["authorization_code"]  # no refresh storm
    assert jobs_by_status(app) == {"queued": 2}
    status = world.client.get("/api/integrations/xero/status", headers=world.as_("admin")).get_json()
    assert status["state"] == "needs_reconnect" and "403" in status["last_error"]
    with app.app_context():
        alerts = db.session.execute(
            text("SELECT count(*) FROM outbox WHERE kind = 'integration_alert'")
        ).scalar()
        db.session.remove()
    assert alerts == 1
    connect(world, xero)
    run_jobs(app)
    assert jobs_by_status(app) == {"done": 2}


def test_a_request_xero_rejects_is_dead_at_once_and_can_be_discarded(
    world: World, xero: XeroStandIn, app: Flask
) -> None:
    connect(world, xero)
    world.client.patch(
        "/api/integrations/xero/settings", json={"sales_account_code": "BAD"}, headers=world.as_("admin")
    )
    xero.fail_next(1, status=400)  # Xero's validation refuses the invoice (an unknown account, say)
    issued_invoice(world, "INV-1")
    run_jobs(app)
    assert jobs_by_status(app) == {"dead": 1}
    [dead] = world.client.get("/api/ops/jobs", headers=world.as_("operator")).get_json()["dead"]
    assert dead["attempts"] == 1 and "400" in dead["last_error"]
    discarded = world.client.post(f"/api/ops/jobs/{dead['id']}/discard", headers=world.as_("operator"))
    assert discarded.status_code == 200 and discarded.get_json()["status"] == "discarded"
    assert jobs_by_status(app) == {"discarded": 1}


def test_siblings_invoices_share_one_contact_even_when_the_link_was_lost(
    world: World, xero: XeroStandIn, app: Flask
) -> None:
    connect(world, xero)
    issued_invoice(world, "INV-1")
    run_jobs(app)
    with app.app_context():  # as if a second runner made the contact but died before linking it
        db.session.execute(text("DELETE FROM xero_links WHERE kind = 'contact'"))
        db.session.commit()
        db.session.remove()
    issued_invoice(world, "INV-2")
    run_jobs(app)
    assert jobs_by_status(app) == {"done": 2}
    assert len(xero.contacts) == 1
    assert {i["Contact"]["ContactID"] for i in xero.invoices.values()} == set(xero.contacts)


def test_webhook_signatures_are_the_credential(world: World, xero: XeroStandIn) -> None:
    intent = _post_webhook(world, xero, [])
    assert intent.status_code == 200 and intent.get_data() == b""
    assert _post_webhook(world, xero, [], key="another-key").status_code == 401
    body = xero.webhook_body([])
    unsigned = world.client.post(WEBHOOKS, data=body, content_type="application/json")
    assert unsigned.status_code == 401
    tampered = world.client.post(
        WEBHOOKS,
        data=body.replace(b"events", b"Events"),
        content_type="application/json",
        headers={"x-xero-signature": xero.sign(body, xero.webhook_key)},
    )
    assert tampered.status_code == 401
    not_json = world.client.post(
        WEBHOOKS,
        data=b"[",
        content_type="application/json",
        headers={"x-xero-signature": xero.sign(b"[", xero.webhook_key)},
    )
    assert not_json.status_code == 400


def test_a_payment_recorded_in_xero_becomes_a_payment_here_once(
    world: World, xero: XeroStandIn, app: Flask
) -> None:
    connect(world, xero)
    invoice_id = issued_invoice(world)
    run_jobs(app)
    xero_invoice = _xero_invoice(xero, "INV-1")
    xero.record_payment_in_xero(xero_invoice["InvoiceID"], 100.50)
    event = xero.invoice_event(xero_invoice["InvoiceID"])
    assert _post_webhook(world, xero, [event]).status_code == 200
    assert _post_webhook(world, xero, [event]).status_code == 200  # Xero delivers again
    run_jobs(app)

    detail = world.client.get(f"/api/invoices/{invoice_id}", headers=world.as_("admin")).get_json()
    [payment] = detail["payments"]
    assert payment["amount_cents"] == 10_050 and payment["reference"].startswith("Xero ")
    balance = world.client.get(
        f"/api/students/{world.ids['alice']}/balance", headers=world.as_("admin")
    ).get_json()
    assert balance["outstanding_cents"] == 15_050 - 10_050
    # A later event about the same invoice takes nothing twice, and nothing is sent back to Xero.
    later = {**event, "eventDateUtc": "2099-01-01T00:00:00"}
    assert _post_webhook(world, xero, [later]).status_code == 200
    run_jobs(app)
    detail = world.client.get(f"/api/invoices/{invoice_id}", headers=world.as_("admin")).get_json()
    assert len(detail["payments"]) == 1
    assert xero_writes(xero, "/Payments") == []
    assert len(xero.payments) == 1
    # An event for an organisation no school here has is ignored.
    foreign = {**event, "tenantId": str(uuid.uuid4()), "eventDateUtc": "2099-01-02T00:00:00"}
    assert _post_webhook(world, xero, [foreign]).status_code == 200
    assert jobs_by_status(app).get("queued", 0) == 0


def _sent_but_never_linked(
    world: World, xero: XeroStandIn, app: Flask, monkeypatch: pytest.MonkeyPatch
) -> tuple[str, dict[str, Any]]:
    """An invoice in Xero, and a payment whose job reached Xero but died each time before it could
    link Xero's answer (now a dead letter)."""
    connect(world, xero)
    invoice_id = issued_invoice(world)
    run_jobs(app)
    payment = pay(world, invoice_id, 5_000)

    def crash(*args: Any) -> None:
        raise RuntimeError("the runner died after Xero's answer")

    monkeypatch.setattr(sync, "link", crash)
    deadline = time.monotonic() + 10
    while jobs_by_status(app).get("dead") != 1 and time.monotonic() < deadline:
        run_jobs(app)
        time.sleep(0.03)
    monkeypatch.undo()
    assert len(xero.payments) == 1  # three attempts, one payment: the Idempotency-Key held
    [sent] = xero.payments.values()
    assert f"[homeroom:{payment['id']}]" in sent["Reference"]
    return invoice_id, payment


def test_a_payment_sent_from_here_and_seen_in_a_webhook_first_is_not_taken_twice(
    world: World, xero: XeroStandIn, app: Flask, monkeypatch: pytest.MonkeyPatch
) -> None:
    invoice_id, payment = _sent_but_never_linked(world, xero, app, monkeypatch)
    # Xero's webhook about the invoice arrives before anyone retries the job.
    xero_invoice = _xero_invoice(xero, "INV-1")
    assert _post_webhook(world, xero, [xero.invoice_event(xero_invoice["InvoiceID"])]).status_code == 200
    run_jobs(app)
    detail = world.client.get(f"/api/invoices/{invoice_id}", headers=world.as_("admin")).get_json()
    assert [p["id"] for p in detail["payments"]] == [payment["id"]]  # linked, not taken in again

    [dead] = world.client.get("/api/ops/jobs", headers=world.as_("operator")).get_json()["dead"]
    world.client.post(f"/api/ops/jobs/{dead['id']}/retry", headers=world.as_("operator"))
    run_jobs(app)
    assert jobs_by_status(app).get("dead", 0) == 0
    assert len(xero.payments) == 1


def test_a_payment_reversed_before_its_link_is_still_deleted_in_xero(
    world: World, xero: XeroStandIn, app: Flask, monkeypatch: pytest.MonkeyPatch
) -> None:
    _, payment = _sent_but_never_linked(world, xero, app, monkeypatch)
    reversed_ = world.client.post(
        f"/api/payments/{payment['id']}/reverse", json={"reason": "Bounced"}, headers=world.as_("admin")
    )
    assert reversed_.status_code == 200
    run_jobs(app)  # the reversal finds nothing linked to undo
    xero_invoice = _xero_invoice(xero, "INV-1")
    _post_webhook(world, xero, [xero.invoice_event(xero_invoice["InvoiceID"])])
    run_jobs(app)  # the webhook links our payment and queues the deletion it still owes
    [sent] = xero.payments.values()
    assert sent["Status"] == "DELETED"


def test_a_payment_reversed_before_it_reached_xero_is_never_sent(
    world: World, xero: XeroStandIn, app: Flask
) -> None:
    connect(world, xero)
    invoice_id = issued_invoice(world)
    run_jobs(app)
    payment = pay(world, invoice_id, 5_000)
    xero.fail_next(3, status=503)
    deadline = time.monotonic() + 10
    while jobs_by_status(app).get("dead") != 1 and time.monotonic() < deadline:
        run_jobs(app)
        time.sleep(0.03)
    reversed_ = world.client.post(
        f"/api/payments/{payment['id']}/reverse", json={"reason": "Entered twice"}, headers=world.as_("admin")
    )
    assert reversed_.status_code == 200
    run_jobs(app)  # the reversal: nothing in Xero to undo
    [dead] = world.client.get("/api/ops/jobs", headers=world.as_("operator")).get_json()["dead"]
    world.client.post(f"/api/ops/jobs/{dead['id']}/retry", headers=world.as_("operator"))
    run_jobs(app)
    assert xero.payments == {}
    assert jobs_by_status(app) == {"done": 3}


def test_what_changed_while_disconnected_goes_with_a_full_sync(
    world: World, xero: XeroStandIn, app: Flask
) -> None:
    connect(world, xero)
    invoice_id = issued_invoice(world, "INV-1")
    payment = pay(world, invoice_id, 5_000)
    run_jobs(app)
    assert (
        world.client.post("/api/integrations/xero/disconnect", headers=world.as_("admin")).status_code == 200
    )
    world.client.post(
        f"/api/payments/{payment['id']}/reverse", json={"reason": "Bounced"}, headers=world.as_("admin")
    )
    issued_invoice(world, "INV-2")
    connect(world, xero)
    synced = world.client.post("/api/integrations/xero/sync", headers=world.as_("admin")).get_json()
    assert synced == {"invoices_queued": 1, "payments_queued": 0, "reversals_queued": 1}
    run_jobs(app)
    [sent] = xero.payments.values()
    assert sent["Status"] == "DELETED"
    assert {i["InvoiceNumber"] for i in xero.invoices.values()} == {"INV-1", "INV-2"}


def test_moving_to_another_organisation_sends_everything_there(
    world: World, xero: XeroStandIn, app: Flask
) -> None:
    connect(world, xero)
    issued_invoice(world, "INV-1")
    run_jobs(app)
    first_tenant = xero.tenant_id
    xero.tenants[:] = [{"tenantId": str(uuid.uuid4()), "tenantName": "New Books Ltd"}]
    status = connect(world, xero)
    assert status["organisation"]["name"] == "New Books Ltd"
    run_jobs(app)  # everything was queued again for the new organisation
    synced = world.client.post("/api/integrations/xero/sync", headers=world.as_("admin")).get_json()
    assert synced == {"invoices_queued": 0, "payments_queued": 0, "reversals_queued": 0}
    tenants = [r["tenant_id"] for r in xero_writes(xero, "/Invoices")]
    assert tenants == [first_tenant, xero.tenants[0]["tenantId"]]


def test_a_slow_xero_times_out_and_the_retry_creates_nothing_twice(
    world: World, xero: XeroStandIn, make_app: AppFactory
) -> None:
    app = make_app(**xero_settings(xero, XERO_TIMEOUT=0.5))
    world.app, world.client = app, app.test_client()
    world.headers = {name: auth_headers(world.client, account) for name, account in world.accounts.items()}
    connect(world, xero)
    issued_invoice(world)
    xero.slow_next(2, 1.0)  # the contact and the invoice each answer after our timeout...
    deadline = time.monotonic() + 15
    while jobs_by_status(app) != {"done": 1} and time.monotonic() < deadline:
        run_jobs(app)
        time.sleep(0.05)
    assert jobs_by_status(app) == {"done": 1}
    # ...yet Xero did each once: the retries sent the same Idempotency-Keys and got its first answers.
    assert len(xero.contacts) == 1 and len(xero.invoices) == 1
    with app.app_context():
        attempts = db.session.execute(text("SELECT attempts FROM jobs")).scalar()
        db.session.remove()
    assert attempts == 3  # two timeouts, then done
    keys = {r["idempotency_key"] for r in xero.requests if r["path"].lower().endswith("/invoices")}
    assert len(keys) == 1
