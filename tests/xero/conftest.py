"""Apps connected to a Xero stand-in on 127.0.0.1 (tests/xero/standin.py), the small school of
tests/school.py, and helpers to connect, issue invoices and run the job runner."""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from typing import Any
from urllib.parse import parse_qs, urlsplit

import httpx
import pytest
from flask import Flask
from sqlalchemy import text

from backend.config import SETTINGS_EXTENSION
from backend.core.extensions import db
from backend.mail.sender import Sender, Totals, before_round_hooks
from tests.conftest import AppFactory
from tests.school import TODAY, World, world  # noqa: F401  (the fixture, reused)
from tests.xero.standin import XeroStandIn

REDIRECT_URI = "https://api.homeroom.test/api/integrations/xero/callback"


def xero_settings(xero: XeroStandIn, **extra: Any) -> dict[str, Any]:
    return {
        "XERO_CLIENT_ID": xero.client_id,
        "XERO_CLIENT_SECRET": xero.client_secret,
        "XERO_REDIRECT_URI": REDIRECT_URI,
        "XERO_WEBHOOK_KEY": xero.webhook_key,
        "XERO_AUTHORIZE_URL": xero.authorize_url,
        "XERO_IDENTITY_URL": xero.url,
        "XERO_API_URL": xero.url,
        "XERO_TIMEOUT": 5,
        "JOBS_BACKOFF_SECONDS": 0.01,
        "JOBS_BACKOFF_MAX_SECONDS": 0.02,
        "JOBS_MAX_ATTEMPTS": 3,
        "OUTBOX_POLL_SECONDS": 0.05,
        "APP_BASE_URL": "https://app.homeroom.test",
        **extra,
    }


@pytest.fixture
def xero() -> Iterator[XeroStandIn]:
    with XeroStandIn() as standin:
        yield standin
    assert not standin.errors, standin.errors


@pytest.fixture
def app(make_app: AppFactory, xero: XeroStandIn) -> Flask:
    return make_app(**xero_settings(xero))


def run_jobs(app: Flask, *, max_seconds: float = 20) -> Totals:
    """The production runner (`flask outbox run`: mail and every job kind) until nothing is due."""
    sender = Sender(app, app.extensions[SETTINGS_EXTENSION], before_round=before_round_hooks(app))
    return sender.run(until_idle=True, max_seconds=max_seconds)


def connect(school: World, xero: XeroStandIn, who: str = "admin") -> dict[str, Any]:
    """An admin's whole connect: start, approve at the stand-in (its redirect), the callback."""
    started = school.client.post("/api/integrations/xero/connect", headers=school.as_(who))
    assert started.status_code == 200, started.get_json()
    approved = httpx.get(started.get_json()["authorize_url"], follow_redirects=False)
    assert approved.status_code == 302, approved.text
    location = urlsplit(approved.headers["Location"])
    assert f"{location.scheme}://{location.netloc}{location.path}" == REDIRECT_URI
    query = {name: values[0] for name, values in parse_qs(location.query).items()}
    finished = school.client.get("/api/integrations/xero/callback", query_string=query)
    assert finished.status_code == 200, finished.get_json()
    return finished.get_json()


def issued_invoice(school: World, number: str = "INV-1", amounts: tuple[int, ...] = (12_000, 3_050)) -> str:
    invoice = school.post(
        "admin",
        "/api/invoices",
        {
            "student_id": str(school.ids["alice"]),
            "number": number,
            "due_date": str(TODAY),
            "lines": [
                {"description": f"Line {n}", "category": "tuition", "amount_cents": amount}
                for n, amount in enumerate(amounts)
            ],
        },
    )
    response = school.client.post(f"/api/invoices/{invoice['id']}/issue", headers=school.as_("admin"))
    assert response.status_code == 200, response.get_json()
    return str(invoice["id"])


def pay(school: World, invoice_id: str, cents: int) -> dict[str, Any]:
    response = school.client.post(
        f"/api/invoices/{invoice_id}/payments",
        json={"amount_cents": cents, "method": "card"},
        headers={**school.as_("admin"), "Idempotency-Key": str(uuid.uuid4())},
    )
    assert response.status_code == 201, response.get_json()
    return dict(response.get_json())


def jobs_by_status(app: Flask) -> dict[str, int]:
    with app.app_context():
        rows = db.session.execute(text("SELECT status, count(*) FROM jobs GROUP BY status")).all()
        db.session.remove()
    return {str(status): int(count) for status, count in rows}


def xero_writes(xero: XeroStandIn, path: str) -> list[dict[str, Any]]:
    """The accounting writes (PUT or POST) whose path ends with `path`, answered 200."""
    return [
        r
        for r in xero.requests
        if r["method"] in ("PUT", "POST") and r["path"].lower().endswith(path.lower()) and r["status"] == 200
    ]
