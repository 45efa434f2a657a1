"""`flask schools create` and `flask users create`: passwords prompted or piped, never arguments."""

from __future__ import annotations

from flask import Flask
from sqlalchemy import select

from backend.auth.models import School, User
from backend.extensions import db

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
