"""The whole story with real processes: Gunicorn serving the API, `flask outbox run` as the worker,
the Xero stand-in and an SMTP server, all on 127.0.0.1. A school connects, its invoice and payment
reach Xero, a payment typed into Xero comes back by webhook, a refused refresh token ends in
needs_reconnect with one email, and a dead letter is retried from the ops API."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
import uuid
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import httpx
import pytest

from backend.config import PROJECT_ROOT
from tests.conftest import RUN_ENCRYPTION_KEY, AppFactory, make_operator, make_school, make_user
from tests.mail.smtp_server import SMTPServer
from tests.school import TODAY
from tests.serving.conftest import Server, gunicorn  # noqa: F401  (the fixture, reused)
from tests.xero.conftest import xero_settings
from tests.xero.standin import XeroStandIn

FLASK = str(Path(sys.executable).with_name("flask"))


def _until(check: Callable[[], Any], what: str, timeout: float = 30) -> Any:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        result = check()
        if result:
            return result
        time.sleep(0.1)
    raise AssertionError(f"timed out waiting for {what}")


class Api:
    def __init__(self, server: Server) -> None:
        self.http = httpx.Client(base_url=f"http://127.0.0.1:{server.port}", timeout=15)

    def sign_in(self, email: str, password: str) -> dict[str, str]:
        response = self.http.post("/api/auth/login", json={"email": email, "password": password})
        assert response.status_code == 200, response.text
        return {"Authorization": f"Bearer {response.json()['access_token']}"}

    def call(self, method: str, path: str, who: dict[str, str], expect: int = 200, **kwargs: Any) -> Any:
        response = self.http.request(method, path, headers={**who, **kwargs.pop("headers", {})}, **kwargs)
        assert response.status_code == expect, response.text
        return response.json() if response.content else None


@pytest.fixture
def smtp() -> Iterator[SMTPServer]:
    server = SMTPServer()
    server.start()
    yield server
    server.stop()


def _connect(api: Api, admin: dict[str, str]) -> dict[str, Any]:
    started = api.call("POST", "/api/integrations/xero/connect", admin)
    location = urlsplit(httpx.get(started["authorize_url"], follow_redirects=False).headers["Location"])
    return dict(api.call("GET", f"/api/integrations/xero/callback?{location.query}", {}))


def _invoice(api: Api, admin: dict[str, str], student: str, number: str, cents: int) -> str:
    body = {
        "student_id": student,
        "number": number,
        "due_date": str(TODAY),
        "lines": [{"description": "Autumn fees", "category": "tuition", "amount_cents": cents}],
    }
    invoice = api.call("POST", "/api/invoices", admin, expect=201, json=body)
    api.call("POST", f"/api/invoices/{invoice['id']}/issue", admin)
    return str(invoice["id"])


def test_the_xero_story_with_real_processes(
    gunicorn: Callable[..., Server],  # noqa: F811
    make_app: AppFactory,
    smtp: SMTPServer,
    migrated_database: str,
    tmp_path: Path,
) -> None:
    with XeroStandIn() as xero:
        env = {
            **{k: str(v) for k, v in xero_settings(xero, JOBS_MAX_ATTEMPTS=2).items()},
            "SMTP_URL": smtp.url,
            "MAIL_FROM": "Homeroom <no-reply@homeroom.test>",
            "ENCRYPTION_KEYS": RUN_ENCRYPTION_KEY,
        }
        setup = make_app(**env)
        school = make_school(setup)
        admin_account, parent = make_user(setup, school, "admin"), make_user(setup, school, "parent")
        operator_account = make_operator(setup)
        server = gunicorn("wsgi:application", **env)
        api = Api(server)
        admin = api.sign_in(admin_account.email, admin_account.password)
        operator = api.sign_in(operator_account.email, operator_account.password)

        # 1. The admin connects the school.
        assert _connect(api, admin)["state"] == "connected"

        # 2. An invoice and a payment; the worker sends both.
        student = api.call(
            "POST",
            "/api/students",
            admin,
            expect=201,
            json={
                "admission_number": "S-1",
                "first_name": "Ada",
                "last_name": "Lovelace",
                "date_of_birth": "2015-01-01",
                "grade_level": 5,
                "enrolled_on": "2025-09-01",
            },
        )["id"]
        api.call(
            "POST",
            f"/api/students/{student}/guardians",
            admin,
            expect=201,
            json={"user_id": str(parent.user_id), "relationship": "mother", "is_primary": True},
        )
        first = _invoice(api, admin, student, "INV-1", 20_000)
        api.call(
            "POST",
            f"/api/invoices/{first}/payments",
            admin,
            expect=201,
            json={"amount_cents": 5_000, "method": "card"},
            headers={"Idempotency-Key": str(uuid.uuid4())},
        )
        log = (tmp_path / "worker.log").open("w")
        worker = subprocess.Popen(
            [FLASK, "--app", "wsgi", "outbox", "run"],
            cwd=PROJECT_ROOT,
            env={
                **os.environ,
                "HOMEROOM_ENV_FILE": "",
                "APP_ENV": "testing",
                "LOG_FORMAT": "json",
                "DATABASE_URL": migrated_database,
                **env,
            },
            stdout=log,
            stderr=subprocess.STDOUT,
        )
        try:
            _until(lambda: any(p["Amount"] == 50.0 for p in xero.payments.values()), "the payment in Xero")
            [xero_invoice] = xero.invoices.values()
            assert xero_invoice["InvoiceNumber"] == "INV-1" and xero_invoice["AmountPaid"] == 50.0

            # 3. The office records the rest in Xero; the webhook brings it back.
            xero.record_payment_in_xero(xero_invoice["InvoiceID"], 150.0)
            answered = xero.send_webhook(
                f"{api.http.base_url}/api/integrations/xero/webhooks",
                [xero.invoice_event(xero_invoice["InvoiceID"])],
            )
            assert answered.status_code == 200
            assert (
                xero.send_webhook(
                    f"{api.http.base_url}/api/integrations/xero/webhooks", [], key="wrong"
                ).status_code
                == 401
            )
            balance = _until(
                lambda: api.call("GET", f"/api/students/{student}/balance", admin)["outstanding_cents"] == 0,
                "the balance to reach 0",
            )
            assert balance

            # 4. Xero refuses the refresh token: needs_reconnect, one email, no storm.
            xero.expire_refresh_tokens()
            xero.expire_access_tokens()
            second = _invoice(api, admin, student, "INV-2", 7_000)
            _until(lambda: smtp.to(admin_account.email), "the reconnect email")
            status = api.call("GET", "/api/integrations/xero/status", admin)
            assert status["state"] == "needs_reconnect" and status["jobs"]["queued"] == 1
            time.sleep(1.5)  # the worker keeps going round: still one email, one refused refresh
            assert len(smtp.to(admin_account.email)) == 1
            assert "reconnected" in smtp.to(admin_account.email)[0].message["Subject"]
            assert len([c for c in xero.token_calls if c["status"] == 400]) == 1
            health = api.call("GET", "/api/health", {})["components"]["xero"]
            assert health["status"] == "degraded"

            # 5. The admin reconnects; what waited goes; a failing Xero leaves a dead letter that
            #    an operator retries.
            assert _connect(api, admin)["state"] == "connected"
            _until(lambda: len(xero.invoices) == 2, "the waiting invoice in Xero")
            xero.fail_next(2, status=500)
            _invoice(api, admin, student, "INV-3", 1_000)
            [dead] = _until(lambda: api.call("GET", "/api/ops/jobs", operator)["dead"], "a dead letter")
            assert dead["kind"] == "xero.invoice" and dead["attempts"] == 2
            api.call("POST", f"/api/ops/jobs/{dead['id']}/retry", operator)
            _until(lambda: len(xero.invoices) == 3, "the retried invoice in Xero")
            assert api.call("GET", "/api/ops/jobs", operator)["dead"] == []
            assert second  # INV-2 went after the reconnect
        finally:
            worker.send_signal(signal.SIGTERM)
            code = worker.wait(timeout=30)
            log.close()
        assert code == 0, (tmp_path / "worker.log").read_text()[-3000:]
        worker_log = (tmp_path / "worker.log").read_text()
        for call in xero.token_calls:
            for secret in (call.get("refresh_token"), call.get("code")):
                assert not secret or secret not in worker_log + server.log_path.read_text()
