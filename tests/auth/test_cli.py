"""`flask schools create`, `flask users create` and `flask users set-password`: passwords prompted
or piped, never arguments."""

from __future__ import annotations

from flask import Flask
from sqlalchemy import select, update

from backend.audit.models import AuditEvent
from backend.auth.models import User
from backend.core.extensions import db
from backend.schools.models import School
from tests.conftest import PASSWORD, bearer, login, make_school, make_user

GOOD = "a-long-enough-passphrase"


def _create_school(app: Flask, slug: str = "north-high") -> None:
    result = app.test_cli_runner().invoke(
        args=[
            "schools",
            "create",
            "--name",
            "North High",
            "--slug",
            slug,
            "--timezone",
            "America/Chicago",
            "--currency",
            "usd",
        ]
    )
    assert result.exit_code == 0, result.output
    assert f"Created school {slug}" in result.output


def test_create_school_and_admin_from_stdin(app: Flask) -> None:
    _create_school(app)
    result = app.test_cli_runner().invoke(
        args=[
            "users",
            "create",
            "--school",
            "north-high",
            "--email",
            "Head@Example.org",
            "--full-name",
            "Head",
            "--role",
            "admin",
            "--password-stdin",
        ],
        input=f"{GOOD}\n",
    )
    assert result.exit_code == 0, result.output
    assert GOOD not in result.output
    with app.app_context():
        school = db.session.scalar(select(School).where(School.slug == "north-high"))
        assert (school.timezone, school.currency) == ("America/Chicago", "USD")
        user = db.session.scalar(select(User).where(User.email == "head@example.org"))
        assert user.role == "admin" and user.school_id == school.id
    login = app.test_client().post("/api/auth/login", json={"email": "head@example.org", "password": GOOD})
    assert login.status_code == 200


def test_password_prompt_asks_twice_and_hides_input(app: Flask) -> None:
    _create_school(app)
    args = [
        "users",
        "create",
        "--school",
        "north-high",
        "--email",
        "t@example.org",
        "--full-name",
        "T",
        "--role",
        "teacher",
    ]
    result = app.test_cli_runner().invoke(args=args, input=f"{GOOD}\n{GOOD}\n")
    assert result.exit_code == 0, result.output
    assert "Repeat for confirmation" in result.output
    assert GOOD not in result.output


def test_password_is_never_an_argument(app: Flask) -> None:
    _create_school(app)
    result = app.test_cli_runner().invoke(
        args=[
            "users",
            "create",
            "--school",
            "north-high",
            "--email",
            "x@example.org",
            "--full-name",
            "X",
            "--role",
            "admin",
            "--password",
            GOOD,
        ]
    )
    assert result.exit_code == 2
    assert "No such option '--password'" in result.output


def test_refusals_are_clear(app: Flask) -> None:
    runner = app.test_cli_runner()
    args = ["--email", "x@example.org", "--full-name", "X", "--role", "admin", "--password-stdin"]
    missing = runner.invoke(args=["users", "create", "--school", "nowhere", *args], input=f"{GOOD}\n")
    assert missing.exit_code == 1 and "No school with slug 'nowhere'" in missing.output
    _create_school(app)
    weak = runner.invoke(args=["users", "create", "--school", "north-high", *args], input="short\n")
    assert weak.exit_code == 1 and "at least 12 characters" in weak.output
    duplicate = runner.invoke(
        args=[
            "schools",
            "create",
            "--name",
            "N",
            "--slug",
            "north-high",
            "--timezone",
            "UTC",
            "--currency",
            "GBP",
        ]
    )
    assert duplicate.exit_code == 1 and "already exists" in duplicate.output
    bad_zone = runner.invoke(
        args=[
            "schools",
            "create",
            "--name",
            "N",
            "--slug",
            "south",
            "--timezone",
            "Mars/Olympus",
            "--currency",
            "GBP",
        ]
    )
    assert bad_zone.exit_code == 1 and "IANA time zone" in bad_zone.output


NEW = "another-long-passphrase"


def test_set_password_replaces_it_ends_sessions_and_clears_the_back_off(app: Flask) -> None:
    """A lost admin or demo password is reset from the command line, not by deleting the database."""
    school_id = make_school(app)
    account = make_user(app, school_id, "admin", email="head@example.org")
    client = app.test_client()
    old = login(client, account, return_refresh_token=True)
    with app.app_context():
        db.session.execute(update(User).where(User.id == account.user_id).values(failed_login_count=4))
        db.session.commit()
    result = app.test_cli_runner().invoke(
        args=["users", "set-password", "--email", "Head@Example.org", "--password-stdin"], input=f"{NEW}\n"
    )
    assert result.exit_code == 0, result.output
    assert "Password set for head@example.org" in result.output and NEW not in result.output
    assert client.get("/api/auth/me", headers=bearer(old["access_token"])).status_code == 401
    assert client.post("/api/auth/refresh", json={"refresh_token": old["refresh_token"]}).status_code == 401
    credentials = {"email": "head@example.org", "password": PASSWORD}
    assert client.post("/api/auth/login", json=credentials).status_code == 401
    assert client.post("/api/auth/login", json={**credentials, "password": NEW}).status_code == 200
    with app.app_context():
        user = db.session.get_one(User, account.user_id)
        assert user.failed_login_count == 0 and user.password_changed_at is not None
        event = db.session.scalar(  # the audit trail is kept across tests: look for this user's event
            select(AuditEvent).where(
                AuditEvent.action == "user.password_reset", AuditEvent.resource_id == str(account.user_id)
            )
        )
        assert event is not None
        assert event.school_id == school_id and event.actor_id is None


def test_set_password_refuses_unknown_users_and_weak_passwords(app: Flask) -> None:
    account = make_user(app, make_school(app), "teacher", email="t@example.org")
    runner = app.test_cli_runner()
    unknown = runner.invoke(
        args=["users", "set-password", "--email", "nobody@example.org", "--password-stdin"], input=f"{NEW}\n"
    )
    assert unknown.exit_code == 1 and "No user with email" in unknown.output
    weak = runner.invoke(
        args=["users", "set-password", "--email", account.email, "--password-stdin"], input="x\n"
    )
    assert weak.exit_code == 1 and "password" in weak.output
    assert (
        app.test_client()
        .post("/api/auth/login", json={"email": account.email, "password": PASSWORD})
        .status_code
        == 200
    )  # unchanged


def test_set_password_prompts_twice_when_not_piped(app: Flask) -> None:
    account = make_user(app, make_school(app), "parent", email="p@example.org")
    result = app.test_cli_runner().invoke(
        args=["users", "set-password", "--email", account.email], input=f"{NEW}\n{NEW}\n"
    )
    assert result.exit_code == 0, result.output
    assert "Repeat for confirmation" in result.output and NEW not in result.output
