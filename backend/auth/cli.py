"""`flask schools create`, `flask users create`, `flask routes-audit`."""

from __future__ import annotations

import sys

import click
from flask import Flask, current_app
from flask.cli import AppGroup, with_appcontext
from pydantic import ValidationError
from sqlalchemy import select

from backend.auth import user_service
from backend.auth.access import unprotected_routes
from backend.auth.models import School
from backend.auth.permissions import Role
from backend.auth.schemas import UserCreateIn
from backend.core.errors import ApiError
from backend.extensions import db

schools_cli = AppGroup("schools", help="Manage schools.")
users_cli = AppGroup("users", help="Manage users.")


def _fail(error: ApiError | ValidationError) -> click.ClickException:
    if isinstance(error, ValidationError):
        lines = [f"{'.'.join(map(str, e['loc']))}: {e['msg']}" for e in error.errors(include_input=False)]
        return click.ClickException("; ".join(lines))
    details = [f"{e['field']}: {e['message']}" for e in error.extra.get("errors", [])]
    return click.ClickException("; ".join(details) or str(error))


@schools_cli.command("create")
@click.option("--name", required=True)
@click.option("--slug", required=True, help="Short unique name: lower-case letters, digits, hyphens.")
@click.option("--timezone", "timezone_name", required=True, help="IANA time zone, e.g. Europe/London.")
@click.option("--currency", required=True, help="ISO 4217 code, e.g. GBP.")
def create_school(name: str, slug: str, timezone_name: str, currency: str) -> None:
    """Create a school."""
    try:
        school = user_service.create_school(name, slug, timezone_name, currency.upper())
    except ApiError as error:
        raise _fail(error) from None
    click.echo(f"Created school {school.slug} ({school.id}).")


def _read_password(from_stdin: bool) -> str:
    if from_stdin:
        return sys.stdin.readline().rstrip("\r\n")
    return str(click.prompt("Password", hide_input=True, confirmation_prompt=True))


@users_cli.command("create")
@click.option("--school", "school_slug", required=True, help="The school's slug.")
@click.option("--email", required=True)
@click.option("--full-name", required=True)
@click.option("--role", type=click.Choice([r.value for r in Role]), required=True)
@click.option("--password-stdin", is_flag=True, help="Read the password from the first line of stdin.")
def create_user(school_slug: str, email: str, full_name: str, role: str, password_stdin: bool) -> None:
    """Create a user. The password is prompted for (or read from stdin), never taken as an argument."""
    school_id = db.session.scalar(select(School.id).where(School.slug == school_slug))
    if school_id is None:
        raise click.ClickException(f"No school with slug {school_slug!r}.")
    password = _read_password(password_stdin)
    try:
        data = UserCreateIn(email=email, full_name=full_name, role=Role(role), password=password)
        user = user_service.create_user(school_id, data)
    except (ApiError, ValidationError) as error:
        raise _fail(error) from None
    click.echo(f"Created {user.role} {user.email} ({user.id}) in {school_slug}.")


@click.command("routes-audit")
@with_appcontext
def routes_audit() -> None:
    """List routes that are neither public nor guarded by a permission; exit 1 if there are any."""
    problems = unprotected_routes(current_app)
    for line in problems:
        click.echo(line)
    if problems:
        raise click.ClickException(f"{len(problems)} route(s) are neither public nor protected.")
    click.echo("Every route is public on purpose or guarded by a permission.", err=True)


def register_auth_cli(app: Flask) -> None:
    app.cli.add_command(schools_cli)
    app.cli.add_command(users_cli)
    app.cli.add_command(routes_audit)
