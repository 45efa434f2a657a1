"""Fees: exact money, computed balances and statuses, idempotent payments, reversals, access."""

from __future__ import annotations

import threading
import uuid
from datetime import UTC, date, datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

import pytest
from sqlalchemy import func, select

from backend.core.extensions import db
from backend.fees.models import Payment
from tests.conftest import postgres_only
from tests.school import TODAY, World


def _invoice(
    world: World,
    *,
    amounts: tuple[int, ...] = (50_000, 2_500),
    due: date | None = None,
    issued: date | None = None,
    number: str | None = None,
    issue: bool = True,
    student: str = "alice",
) -> dict[str, Any]:
    body = {
        "student_id": str(world.ids[student]),
        "number": number or f"INV-{uuid.uuid4().hex[:8]}",
        "issue_date": str(issued or TODAY - timedelta(days=10)),
        "due_date": str(due or TODAY + timedelta(days=30)),
        "lines": [
            {"description": f"Line {n}", "category": "tuition", "amount_cents": a}
            for n, a in enumerate(amounts)
        ],
    }
    invoice = world.post("admin", "/api/invoices", body)
    if issue:
        invoice = world.client.post(
            f"/api/invoices/{invoice['id']}/issue", headers=world.as_("admin")
        ).get_json()
    return invoice


def _pay(world: World, invoice: dict[str, Any], cents: int, key: str | None = None, **extra: Any) -> Any:
    headers = {**world.as_("admin"), "Idempotency-Key": key or uuid.uuid4().hex}
    return world.client.post(
        f"/api/invoices/{invoice['id']}/payments",
        headers=headers,
        json={"amount_cents": cents, "method": "bank_transfer", **extra},
    )


def _get(world: World, invoice: dict[str, Any], who: str = "admin") -> dict[str, Any]:
    return world.client.get(f"/api/invoices/{invoice['id']}", headers=world.as_(who)).get_json()


def _payments(world: World) -> int:
    with world.app.app_context():
        return db.session.scalar(select(func.count()).select_from(Payment))


# --- money rules ----------------------------------------------------------------------------------


def test_invoice_totals_are_exact_integers(world: World) -> None:
    invoice = _invoice(world, amounts=(1999, 1, 333_33), issue=False)
    assert (invoice["state"], invoice["status"], invoice["total_cents"], invoice["currency"]) == (
        "draft",
        None,
        35333,
        "GBP",
    )
    assert [line["amount_cents"] for line in invoice["lines"]] == [1999, 1, 33333]
    assert _pay(world, invoice, 100).status_code == 409  # drafts take no payments
    issued = world.client.post(f"/api/invoices/{invoice['id']}/issue", headers=world.as_("admin")).get_json()
    assert (issued["state"], issued["status"], issued["outstanding_cents"]) == ("issued", "unpaid", 35333)
    assert (
        world.client.post(f"/api/invoices/{invoice['id']}/issue", headers=world.as_("admin")).status_code
        == 409
    )


def test_partial_payments_then_paid(world: World) -> None:
    invoice = _invoice(world, amounts=(10_000,))
    assert _pay(world, invoice, 2_500).status_code == 201
    assert (_get(world, invoice)["status"], _get(world, invoice)["outstanding_cents"]) == (
        "partially_paid",
        7_500,
    )
    assert _pay(world, invoice, 7_500).status_code == 201
    after = _get(world, invoice)
    assert (after["status"], after["paid_cents"], after["outstanding_cents"]) == ("paid", 10_000, 0)


def test_a_payment_keeps_the_time_it_was_made(world: World) -> None:
    """`paid_at` with its offset is taken as that point in time (a JSON body is validated strictly:
    the text once refused as "not a valid datetime")."""
    invoice = _invoice(world, amounts=(10_000,))
    for key, paid_at, stored in (
        ("k-z", "2026-01-05T10:30:00Z", "2026-01-05T10:30:00Z"),
        ("k-offset", "2026-01-06T10:30:00+02:00", "2026-01-06T08:30:00Z"),
    ):
        response = world.client.post(
            f"/api/invoices/{invoice['id']}/payments",
            json={"amount_cents": 100, "method": "cash", "paid_at": paid_at},
            headers={**world.as_("admin"), "Idempotency-Key": key},
        )
        assert response.status_code == 201, response.get_json()
        assert response.get_json()["paid_at"] == stored


def test_overpayment_is_refused_and_changes_nothing(world: World) -> None:
    invoice = _invoice(world, amounts=(10_000,))
    _pay(world, invoice, 6_000)
    response = _pay(world, invoice, 4_001)
    assert response.status_code == 409
    assert response.get_json()["outstanding_cents"] == 4_000
    assert _get(world, invoice)["paid_cents"] == 6_000 and _payments(world) == 1


@pytest.mark.parametrize(
    ("body", "field"),
    [
        ({"amount_cents": 0, "method": "cash"}, "body.amount_cents"),
        ({"amount_cents": -5, "method": "cash"}, "body.amount_cents"),
        ({"amount_cents": 10.5, "method": "cash"}, "body.amount_cents"),
        ({"amount_cents": "100", "method": "cash"}, "body.amount_cents"),
        ({"amount_cents": 100, "method": "bitcoin"}, "body.method"),
        ({"amount_cents": 100, "method": "cash", "paid_at": "2026-01-01T10:00:00"}, "body.paid_at"),
    ],
)
def test_bad_payments_are_422(world: World, body: dict[str, Any], field: str) -> None:
    invoice = _invoice(world)
    response = world.client.post(
        f"/api/invoices/{invoice['id']}/payments",
        json=body,
        headers={**world.as_("admin"), "Idempotency-Key": "k-" + field},
    )
    assert response.status_code == 422 and field in [e["field"] for e in response.get_json()["errors"]]
    assert _payments(world) == 0


def test_reversal_restores_the_balance_and_is_final(world: World) -> None:
    invoice = _invoice(world, amounts=(10_000,))
    payment = _pay(world, invoice, 10_000).get_json()
    assert _get(world, invoice)["status"] == "paid"
    reversed_ = world.client.post(
        f"/api/payments/{payment['id']}/reverse", json={"reason": "Bounced"}, headers=world.as_("admin")
    )
    assert reversed_.status_code == 200 and reversed_.get_json()["reversal"]["reason"] == "Bounced"
    after = _get(world, invoice)
    assert (after["status"], after["paid_cents"], after["outstanding_cents"]) == ("unpaid", 0, 10_000)
    assert [p["reversal"] is not None for p in after["payments"]] == [True]  # kept, marked reversed
    again = world.client.post(
        f"/api/payments/{payment['id']}/reverse", json={"reason": "x"}, headers=world.as_("admin")
    )
    assert again.status_code == 409


def test_void_rules(world: World) -> None:
    invoice = _invoice(world, amounts=(10_000,))
    payment = _pay(world, invoice, 1_000).get_json()
    void = f"/api/invoices/{invoice['id']}/void"
    assert world.client.post(void, headers=world.as_("admin")).status_code == 409  # payments first
    world.client.post(
        f"/api/payments/{payment['id']}/reverse", json={"reason": "refund"}, headers=world.as_("admin")
    )
    voided = world.client.post(void, headers=world.as_("admin")).get_json()
    assert (voided["state"], voided["status"]) == ("void", None)
    assert _pay(world, invoice, 100).status_code == 409
    assert world.client.post(void, headers=world.as_("admin")).status_code == 409
    assert (
        world.client.get(
            "/api/students/{alice}/balance".format(alice=world.ids["alice"]), headers=world.as_("admin")
        ).get_json()["invoiced_cents"]
        == 0
    )


def test_duplicate_invoice_numbers_and_bad_invoices(world: World) -> None:
    _invoice(world, number="INV-1", issue=False)
    body = {
        "student_id": str(world.ids["bob"]),
        "number": "INV-1",
        "due_date": str(TODAY),
        "lines": [{"description": "x", "category": "y", "amount_cents": 1}],
    }
    assert world.client.post("/api/invoices", json=body, headers=world.as_("admin")).status_code == 409
    for change, field in [
        ({"lines": []}, "body.lines"),
        ({"due_date": "2000-01-01"}, "body.due_date"),
        ({"student_id": str(world.ids["foreign"])}, "body.student_id"),
        ({"lines": [{"description": "x", "category": "y", "amount_cents": 0}]}, "body.lines.0.amount_cents"),
    ]:
        response = world.client.post(
            "/api/invoices", json={**body, "number": "INV-2", **change}, headers=world.as_("admin")
        )
        assert response.status_code == 422 and field in [e["field"] for e in response.get_json()["errors"]]


def test_overdue_is_judged_in_the_school_time_zone(world: World, monkeypatch: pytest.MonkeyPatch) -> None:
    """Due yesterday in the school's zone is overdue even while it is still that day in UTC."""
    from backend.core import dates

    zone = ZoneInfo("Europe/London")
    due = date(2026, 6, 1)
    # 23:30 UTC on 1 June is 00:30 on 2 June in London (BST): due date passed there, not in UTC.
    late_evening_utc = datetime(2026, 6, 1, 23, 30, tzinfo=UTC)
    invoice = _invoice(world, amounts=(500,), due=due, issued=date(2026, 5, 1))

    class Clock(datetime):
        @classmethod
        def now(cls, tz: Any = None) -> datetime:  # type: ignore[override]
            return late_evening_utc.astimezone(tz or zone)

    monkeypatch.setattr(dates, "datetime", Clock)
    assert _get(world, invoice)["status"] == "overdue"
    balance = world.client.get(
        f"/api/students/{world.ids['alice']}/balance", headers=world.as_("admin")
    ).get_json()
    assert (balance["overdue_cents"], balance["next_due_date"]) == (500, None)
    monkeypatch.setattr(
        dates,
        "datetime",
        type(
            "Earlier",
            (Clock,),
            {
                "now": classmethod(
                    lambda cls, tz=None: (late_evening_utc - timedelta(hours=1)).astimezone(tz or zone)
                )
            },
        ),
    )
    assert _get(world, invoice)["status"] == "unpaid"  # 23:30 on 1 June in London: due today, not overdue


def test_balance_sums_issued_invoices(world: World) -> None:
    past = _invoice(world, amounts=(3_000,), due=TODAY - timedelta(days=1))
    soon = _invoice(world, amounts=(5_000,), due=TODAY + timedelta(days=5))
    later = _invoice(world, amounts=(7_000,), due=TODAY + timedelta(days=50))
    _invoice(world, amounts=(99_999,), issue=False)  # drafts do not count
    _pay(world, soon, 1_000)
    _pay(world, later, 7_000)
    balance = world.client.get(
        f"/api/students/{world.ids['alice']}/balance", headers=world.as_("admin")
    ).get_json()
    assert balance == {
        "student_id": str(world.ids["alice"]),
        "currency": "GBP",
        "invoiced_cents": 15_000,
        "paid_cents": 8_000,
        "outstanding_cents": 7_000,
        "overdue_cents": 3_000,
        "next_due_date": str(TODAY + timedelta(days=5)),
    }
    assert past


# --- idempotency ----------------------------------------------------------------------------------


def test_same_key_and_body_replays_the_first_response(world: World) -> None:
    invoice = _invoice(world, amounts=(10_000,))
    first = _pay(world, invoice, 4_000, key="pay-1")
    second = _pay(world, invoice, 4_000, key="pay-1")
    assert first.status_code == second.status_code == 201
    assert second.get_json() == first.get_json()
    assert second.headers["Idempotent-Replayed"] == "true" and "Idempotent-Replayed" not in first.headers
    assert _payments(world) == 1 and _get(world, invoice)["paid_cents"] == 4_000


def test_same_key_with_another_body_is_refused(world: World) -> None:
    invoice = _invoice(world, amounts=(10_000,))
    _pay(world, invoice, 4_000, key="pay-2")
    response = _pay(world, invoice, 4_001, key="pay-2")
    assert response.status_code == 422
    assert response.get_json()["errors"][0]["type"] == "idempotency_key_reused"
    other_invoice = _invoice(world, amounts=(10_000,))
    assert _pay(world, other_invoice, 4_000, key="pay-2").status_code == 422  # the key names one request
    assert _payments(world) == 1


@pytest.mark.parametrize("key", [None, "", "x" * 256, "has space", "naïve"])
def test_payments_need_a_valid_key(world: World, key: str | None) -> None:
    invoice = _invoice(world)
    headers = world.as_("admin") | ({"Idempotency-Key": key} if key is not None else {})
    response = world.client.post(
        f"/api/invoices/{invoice['id']}/payments",
        headers=headers,
        json={"amount_cents": 100, "method": "cash"},
    )
    assert response.status_code == 400 and "Idempotency-Key" in response.get_json()["detail"]
    assert _payments(world) == 0


@postgres_only
def test_ten_concurrent_identical_payments_make_one(world: World) -> None:
    invoice = _invoice(world, amounts=(10_000,))
    barrier = threading.Barrier(10)
    results: list[tuple[int, Any]] = []

    def submit() -> None:
        client = world.app.test_client()
        barrier.wait()
        response = client.post(
            f"/api/invoices/{invoice['id']}/payments",
            headers={**world.as_("admin"), "Idempotency-Key": "burst"},
            json={"amount_cents": 6_000, "method": "card"},
        )
        results.append((response.status_code, response.get_json()))

    threads = [threading.Thread(target=submit) for _ in range(10)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=60)
    assert [status for status, _ in results] == [201] * 10
    assert len({body["id"] for _, body in results}) == 1
    assert _payments(world) == 1 and _get(world, invoice)["paid_cents"] == 6_000


@postgres_only
def test_concurrent_different_payments_never_overpay(world: World) -> None:
    invoice = _invoice(world, amounts=(10_000,))
    barrier = threading.Barrier(6)
    statuses: list[int] = []

    def submit() -> None:
        client = world.app.test_client()
        barrier.wait()
        statuses.append(
            client.post(
                f"/api/invoices/{invoice['id']}/payments",
                headers={**world.as_("admin"), "Idempotency-Key": uuid.uuid4().hex},
                json={"amount_cents": 4_000, "method": "card"},
            ).status_code
        )

    threads = [threading.Thread(target=submit) for _ in range(6)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=60)
    assert sorted(statuses) == [201, 201, 409, 409, 409, 409]
    assert _get(world, invoice)["paid_cents"] == 8_000


# --- who sees money -------------------------------------------------------------------------------


def test_fee_access_per_role(world: World) -> None:
    invoice = _invoice(world)
    alice = world.ids["alice"]
    for who in ("teacher", "other_teacher"):
        assert world.client.get("/api/invoices", headers=world.as_(who)).status_code == 403
        assert world.client.get(f"/api/students/{alice}/balance", headers=world.as_(who)).status_code == 403
    # The parent's link was made without can_view_finance: nothing to see yet.
    assert world.client.get("/api/invoices", headers=world.as_("parent")).get_json()["items"] == []
    assert world.client.get(f"/api/invoices/{invoice['id']}", headers=world.as_("parent")).status_code == 404
    assert world.client.get(f"/api/students/{alice}/balance", headers=world.as_("parent")).status_code == 404
    dashboard = world.client.get("/api/parent/dashboard", headers=world.as_("parent")).get_json()
    assert dashboard["children"][0]["balance"] is None
    with world.app.app_context():
        from backend.students.models import GuardianLink

        db.session.get_one(GuardianLink, world.ids["link"]).can_view_finance = True
        db.session.commit()
    listed = world.client.get("/api/invoices", headers=world.as_("parent")).get_json()["items"]
    assert [i["id"] for i in listed] == [invoice["id"]]
    assert _get(world, invoice, "parent")["total_cents"] == 52_500
    payment = world.client.post(
        f"/api/invoices/{invoice['id']}/payments",
        json={"amount_cents": 1, "method": "cash"},
        headers={**world.as_("parent"), "Idempotency-Key": "parent-try"},
    )
    assert payment.status_code == 403
    dashboard = world.client.get("/api/parent/dashboard", headers=world.as_("parent")).get_json()
    assert dashboard["children"][0]["balance"]["outstanding_cents"] == 52_500
    assert (
        world.client.get(f"/api/invoices/{invoice['id']}", headers=world.as_("other_parent")).status_code
        == 404
    )
    foreign = world.client.get(f"/api/invoices/{invoice['id']}", headers=world.as_("other_school_admin"))
    assert foreign.status_code == 404


def test_money_actions_are_audited(world: World) -> None:
    from backend.audit.models import AuditEvent

    invoice = _invoice(world, amounts=(1_000,))
    payment = _pay(world, invoice, 1_000).get_json()
    world.client.post(
        f"/api/payments/{payment['id']}/reverse", json={"reason": "r"}, headers=world.as_("admin")
    )
    world.client.post(f"/api/invoices/{invoice['id']}/void", headers=world.as_("admin"))
    with world.app.app_context():
        actions = list(
            db.session.scalars(
                select(AuditEvent.action)
                .where(AuditEvent.resource_id.in_([invoice["id"], payment["id"]]))
                .order_by(AuditEvent.seq)
            )
        )
    assert actions == ["invoice.create", "invoice.issue", "payment.create", "payment.reverse", "invoice.void"]
