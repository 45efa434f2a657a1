"""Xero's rotating refresh tokens: refreshed exactly once across processes, a crash after Xero's
answer recovered inside the grace period, invalid_grant ending in needs_reconnect with one email
and no retry storm, idle refresh tokens kept alive, and the key rotation reaching the tokens."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from datetime import timedelta

from cryptography.fernet import Fernet
from flask import Flask
from sqlalchemy import text

from backend.config import PROJECT_ROOT
from backend.core.extensions import db
from backend.core.models import utcnow
from tests.conftest import RUN_ENCRYPTION_KEY, RUN_JWT_KEY, AppFactory
from tests.school import World
from tests.xero.conftest import connect, issued_invoice, jobs_by_status, run_jobs, xero_settings, xero_writes
from tests.xero.standin import XeroStandIn


def _expire_access_token(app: Flask) -> None:
    with app.app_context():
        db.session.execute(
            text("UPDATE xero_connections SET access_expires_at = :t"), {"t": utcnow() - timedelta(minutes=1)}
        )
        db.session.commit()
        db.session.remove()


def _refreshes(xero: XeroStandIn) -> list[dict[str, object]]:
    return [c for c in xero.token_calls if c["grant_type"] == "refresh_token"]


def _refresher(app: Flask, xero: XeroStandIn, world: World, *extra: str) -> subprocess.Popen[str]:
    database_url = str(app.config["SQLALCHEMY_DATABASE_URI"])
    return subprocess.Popen(
        [
            sys.executable,
            "-m",
            "tests.xero.refresher",
            database_url,
            json.dumps(
                {**xero_settings(xero), "ENCRYPTION_KEYS": RUN_ENCRYPTION_KEY, "JWT_SECRET_KEY": RUN_JWT_KEY}
            ),
            str(world.accounts["admin"].school_id),
            *extra,
        ],
        cwd=PROJECT_ROOT,
        env={**os.environ, "PYTHONPATH": str(PROJECT_ROOT)},
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )


def _stored(app: Flask) -> tuple[str, str, str]:
    with app.app_context():
        row = db.session.execute(text("SELECT state FROM xero_connections")).one()
        from backend.xero.models import XeroConnection  # the columns decrypted

        connection = db.session.scalars(db.select(XeroConnection)).one()
        result = (row.state, str(connection.access_token), str(connection.refresh_token))
        db.session.remove()
    return result


def test_two_processes_refreshing_at_once_make_one_token_call(
    world: World, xero: XeroStandIn, app: Flask
) -> None:
    connect(world, xero)
    _expire_access_token(app)
    xero.token_delay = 1.0  # the first refresh is still waiting on Xero when the second asks
    first, second = _refresher(app, xero, world), _refresher(app, xero, world)
    outputs = [process.communicate(timeout=60) for process in (first, second)]
    assert [process.returncode for process in (first, second)] == [0, 0], outputs
    tokens = {out.strip() for out, _ in outputs}
    assert len(_refreshes(xero)) == 1
    assert len(tokens) == 1  # both use the one new token
    assert _stored(app)[1] in tokens


def test_a_crash_after_xeros_answer_is_recovered_with_the_stored_token(
    world: World, xero: XeroStandIn, app: Flask
) -> None:
    connect(world, xero)
    state, _, refresh_before = _stored(app)
    _expire_access_token(app)
    crashed = _refresher(app, xero, world, "crash")
    crashed.communicate(timeout=60)
    assert crashed.returncode == 3
    assert len(_refreshes(xero)) == 1  # Xero rotated the token; the new pair never reached the database
    assert _stored(app)[2] == refresh_before

    recovered = _refresher(app, xero, world)
    out, err = recovered.communicate(timeout=60)
    assert recovered.returncode == 0, err
    calls = _refreshes(xero)
    assert len(calls) == 2 and calls[0]["refresh_token"] == calls[1]["refresh_token"] == refresh_before
    assert calls[1]["status"] == 200  # the old token, inside Xero's grace period
    state, access, refresh_after = _stored(app)
    assert state == "connected" and access == out.strip() and refresh_after != refresh_before


def test_invalid_grant_asks_for_a_reconnect_once_and_stops_calling(
    world: World, xero: XeroStandIn, app: Flask
) -> None:
    connect(world, xero)
    xero.expire_refresh_tokens()
    _expire_access_token(app)
    issued_invoice(world, "INV-1")
    issued_invoice(world, "INV-2")
    for _ in range(3):
        run_jobs(app)
    assert len(_refreshes(xero)) == 1  # no retry storm
    assert _refreshes(xero)[0]["status"] == 400
    assert jobs_by_status(app) == {"queued": 2}  # waiting, not dead
    with app.app_context():
        mails = db.session.execute(
            text("SELECT recipient, subject FROM outbox WHERE kind = 'integration_alert'")
        ).all()
        db.session.remove()
    assert [m.recipient for m in mails] == [world.accounts["admin"].email]
    assert "Xero needs to be reconnected" in mails[0].subject
    status = world.client.get("/api/integrations/xero/status", headers=world.as_("admin")).get_json()
    assert status["state"] == "needs_reconnect" and "invalid_grant" in status["last_error"]
    assert status["access_token_expires_at"] is None and status["refresh_token_expires_at"] is None
    health = world.client.get("/api/health").get_json()["components"]["xero"]
    assert health["status"] == "degraded" and health["needs_reconnect"] == 1
    overview = world.client.get("/api/ops/jobs", headers=world.as_("operator")).get_json()
    assert overview["integrations"][0]["state"] == "needs_reconnect"

    # The admin reconnects: the email not sent yet is withdrawn, and what waited is sent, once.
    assert connect(world, xero)["state"] == "connected"
    with app.app_context():
        alert = db.session.execute(
            text("SELECT status FROM outbox WHERE kind = 'integration_alert'")
        ).scalar()
        db.session.remove()
    assert alert == "cancelled"
    run_jobs(app)
    assert jobs_by_status(app) == {"done": 2}
    assert len(xero_writes(xero, "/Invoices")) == 2


def test_an_idle_refresh_token_is_refreshed_by_a_job(
    world: World, xero: XeroStandIn, app: Flask, make_app: AppFactory
) -> None:
    connect(world, xero)
    run_jobs(app)
    assert _refreshes(xero) == []  # fresh: nothing to do
    with app.app_context():
        db.session.execute(
            text("UPDATE xero_connections SET refreshed_at = :t"), {"t": utcnow() - timedelta(days=31)}
        )
        db.session.commit()
        db.session.remove()
    # The keep-alive looks at most every ten minutes per runner: a runner started now looks at once.
    run_jobs(make_app(**xero_settings(xero)))
    assert len(_refreshes(xero)) == 1 and _refreshes(xero)[0]["status"] == 200
    assert jobs_by_status(app) == {"done": 1}


def test_a_refused_client_secret_asks_no_school_to_reconnect(
    world: World, xero: XeroStandIn, app: Flask
) -> None:
    connect(world, xero)
    _expire_access_token(app)
    xero.client_secret = "rotated-at-xero"
    issued_invoice(world, "INV-1")
    run_jobs(app)
    assert _refreshes(xero)[0]["status"] == 401
    assert _stored(app)[0] == "connected"
    assert jobs_by_status(app) == {"queued": 1}  # retried with backoff, not parked for a reconnect
    with app.app_context():
        mails = db.session.execute(
            text("SELECT count(*) FROM outbox WHERE kind = 'integration_alert'")
        ).scalar()
        db.session.remove()
    assert mails == 0


def test_key_rotation_re_encrypts_the_tokens(
    world: World, xero: XeroStandIn, app: Flask, make_app: AppFactory
) -> None:
    connect(world, xero)
    _, access, refresh = _stored(app)
    with app.app_context():
        before = db.session.execute(text("SELECT access_token, refresh_token FROM xero_connections")).one()
        db.session.remove()
    new_key = Fernet.generate_key().decode()
    both = make_app(**xero_settings(xero), ENCRYPTION_KEYS=f"{new_key},{RUN_ENCRYPTION_KEY}")
    result = both.test_cli_runner().invoke(args=["crypto", "rotate"])
    assert result.exit_code == 0, result.output
    only_new = make_app(**xero_settings(xero), ENCRYPTION_KEYS=new_key)
    assert _stored(only_new)[1:] == (access, refresh)  # readable with the new key alone
    with app.app_context():
        after = db.session.execute(text("SELECT access_token, refresh_token FROM xero_connections")).one()
        db.session.remove()
    assert set(after).isdisjoint(before)
