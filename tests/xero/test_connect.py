"""Connecting a school's Xero organisation: off without settings, the whole OAuth flow against the
stand-in (state and PKCE), tokens encrypted and never shown, single-use approvals, disconnect."""

from __future__ import annotations

from urllib.parse import parse_qs, urlsplit

import httpx
from flask import Flask
from sqlalchemy import text

from backend.auth import User
from backend.core.extensions import db
from tests.conftest import AppFactory, auth_headers, make_school, make_user
from tests.school import World
from tests.xero.conftest import connect
from tests.xero.standin import XeroStandIn

ROUTES = ("connect", "status", "disconnect", "sync")


def test_without_its_settings_every_route_says_which_are_missing(make_app: AppFactory) -> None:
    app = make_app()
    client = app.test_client()
    admin = auth_headers(client, make_user(app, make_school(app), "admin"))
    for route in ROUTES:
        method = client.get if route == "status" else client.post
        response = method(f"/api/integrations/xero/{route}", headers=admin)
        assert response.status_code == 404, route
        body = response.get_json()
        assert body["missing_settings"] == [
            "XERO_CLIENT_ID",
            "XERO_CLIENT_SECRET",
            "XERO_REDIRECT_URI",
            "XERO_WEBHOOK_KEY",
        ]
        assert "XERO_CLIENT_ID" in body["detail"]
    webhook = client.post("/api/integrations/xero/webhooks", data=b"{}", content_type="application/json")
    assert webhook.status_code == 404
    health = client.get("/api/health").get_json()["components"]["xero"]
    assert health["status"] == "not_configured"


def test_only_admins_connect_and_a_token_is_needed(world: World) -> None:
    for who in ("teacher", "parent"):
        assert world.client.post("/api/integrations/xero/connect", headers=world.as_(who)).status_code == 403
    assert world.client.get("/api/integrations/xero/status").status_code == 401
    assert (
        world.client.post("/api/integrations/xero/connect", headers=world.as_("operator")).status_code == 403
    )


def test_an_admin_connects_end_to_end(world: World, xero: XeroStandIn, logs: object) -> None:
    status = connect(world, xero)

    assert status["state"] == "connected"
    assert status["organisation"] == {"tenant_id": xero.tenant_id, "name": "Greenfield School Ltd"}
    assert status["access_token_expires_at"] and status["refresh_token_expires_at"]
    assert (status["sales_account_code"], status["payment_account_code"], status["tax_type"]) == (
        "200",
        "090",
        "NONE",
    )
    asked = xero.last_authorize or {}
    assert asked["code_challenge_method"] == "S256" and asked["code_challenge"]
    assert {"offline_access", "accounting.transactions", "accounting.contacts"} <= set(asked["scope"].split())
    [exchange] = [c for c in xero.token_calls if c["grant_type"] == "authorization_code"]
    assert exchange["status"] == 200

    # The tokens are Fernet tokens at rest and appear in no answer and no log line.
    with world.app.app_context():
        row = db.session.execute(text("SELECT access_token, refresh_token FROM xero_connections")).one()
        db.session.remove()
    assert all(value.startswith("gAAAAA") for value in row)
    again = world.client.get("/api/integrations/xero/status", headers=world.as_("admin"))
    assert again.get_json() == status
    shown = again.get_data(as_text=True) + str(logs())  # type: ignore[operator]
    assert 'access_token": "g' not in shown
    for call in xero.token_calls:
        assert not call.get("refresh_token") or call["refresh_token"] not in shown


def test_an_approval_is_used_once_and_only_with_its_state(world: World, xero: XeroStandIn) -> None:
    started = world.client.post("/api/integrations/xero/connect", headers=world.as_("admin")).get_json()
    from urllib.parse import parse_qs, urlsplit

    import httpx

    location = httpx.get(started["authorize_url"], follow_redirects=False).headers["Location"]
    query = {k: v[0] for k, v in parse_qs(urlsplit(location).query).items()}
    forged = world.client.get("/api/integrations/xero/callback", query_string={**query, "state": "forged"})
    assert forged.status_code == 400
    assert world.client.get("/api/integrations/xero/callback", query_string=query).status_code == 200
    replay = world.client.get("/api/integrations/xero/callback", query_string=query)
    assert replay.status_code == 400
    assert "used or expired" in replay.get_json()["detail"]
    denied = world.client.get(
        "/api/integrations/xero/callback", query_string={"state": "x", "error": "access_denied"}
    )
    assert denied.status_code == 400


def test_another_school_sees_none_of_it(world: World, xero: XeroStandIn) -> None:
    connect(world, xero)
    other = world.client.get(
        "/api/integrations/xero/status", headers=world.as_("other_school_admin")
    ).get_json()
    assert other["state"] == "disabled" and other["organisation"] is None


def test_school_codes_override_the_defaults(world: World, xero: XeroStandIn) -> None:
    changed = world.client.patch(
        "/api/integrations/xero/settings",
        json={"sales_account_code": "4000", "tax_type": "EXEMPTOUTPUT"},
        headers=world.as_("admin"),
    )
    assert changed.status_code == 200, changed.get_json()
    assert (changed.get_json()["sales_account_code"], changed.get_json()["tax_type"]) == (
        "4000",
        "EXEMPTOUTPUT",
    )
    back = world.client.patch(
        "/api/integrations/xero/settings", json={"tax_type": None}, headers=world.as_("admin")
    )
    assert back.get_json()["tax_type"] == "NONE"
    for bad in ({}, {"sales_account_code": ""}, {"sales_account_code": "x" * 11}, {"colour": "red"}):
        response = world.client.patch("/api/integrations/xero/settings", json=bad, headers=world.as_("admin"))
        assert response.status_code == 422, bad


def test_disconnect_revokes_at_xero_and_deletes_the_tokens(
    world: World, xero: XeroStandIn, app: Flask
) -> None:
    connect(world, xero)
    [issued] = [c for c in xero.token_calls if c["grant_type"] == "authorization_code"]
    response = world.client.post("/api/integrations/xero/disconnect", headers=world.as_("admin"))
    assert response.status_code == 200
    assert response.get_json()["revoked"] is True
    assert response.get_json()["status"]["state"] == "disabled"
    assert len(xero.revoked) == 1
    with app.app_context():
        row = db.session.execute(
            text("SELECT access_token, refresh_token, state FROM xero_connections")
        ).one()
        db.session.remove()
    assert row == (None, None, "disabled")
    assert (
        world.client.post("/api/integrations/xero/disconnect", headers=world.as_("admin")).status_code == 409
    )
    assert issued["status"] == 200


def test_the_organisation_stored_is_the_one_this_approval_named(world: World, xero: XeroStandIn) -> None:
    # The Xero user connected another organisation in an earlier approval, more recently created:
    # /connections lists it too, under its own authEventId.
    xero.earlier_connections.append(
        {
            "id": "c-old",
            "authEventId": "an-earlier-approval",
            "tenantId": "other-organisation",
            "tenantType": "ORGANISATION",
            "tenantName": "Someone Else's Books",
            "createdDateUtc": "2099-01-01T00:00:00",
            "updatedDateUtc": "2099-01-01T00:00:00",
        }
    )
    status = connect(world, xero)
    assert status["organisation"]["tenant_id"] == xero.tenant_id


def test_an_organisation_serves_one_school(world: World, xero: XeroStandIn) -> None:
    connect(world, xero)
    started = world.client.post("/api/integrations/xero/connect", headers=world.as_("other_school_admin"))
    location = httpx.get(started.get_json()["authorize_url"], follow_redirects=False).headers["Location"]
    query = {k: v[0] for k, v in parse_qs(urlsplit(location).query).items()}
    refused = world.client.get("/api/integrations/xero/callback", query_string=query)
    assert refused.status_code == 409
    assert "another school" in refused.get_json()["detail"]
    other = world.client.get("/api/integrations/xero/status", headers=world.as_("other_school_admin"))
    assert other.get_json()["state"] == "disabled"


def test_an_approval_dies_with_its_admins_rights(world: World, xero: XeroStandIn, app: Flask) -> None:
    started = world.client.post("/api/integrations/xero/connect", headers=world.as_("admin")).get_json()
    location = httpx.get(started["authorize_url"], follow_redirects=False).headers["Location"]
    query = {k: v[0] for k, v in parse_qs(urlsplit(location).query).items()}
    with app.app_context():
        db.session.get_one(User, world.accounts["admin"].user_id).is_active = False
        db.session.commit()
        db.session.remove()
    refused = world.client.get("/api/integrations/xero/callback", query_string=query)
    assert refused.status_code == 400
    assert [c for c in xero.token_calls if c["grant_type"] == "authorization_code"] == []  # no code spent


def test_the_runner_starts_for_xero_without_smtp(app: Flask) -> None:
    ran = app.test_cli_runner().invoke(args=["outbox", "run", "--until-idle", "--max-seconds", "5"])
    assert ran.exit_code == 0, ran.output
    assert "running background jobs (scheduled announcements, Xero) only" in ran.output
