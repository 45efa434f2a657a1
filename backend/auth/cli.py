"""`flask users create`, `flask users set-password`, `flask routes-audit`."""

from __future__ import annotations

import click
from flask import current_app
from flask.cli import AppGroup, with_appcontext
from pydantic import ValidationError

from backend.auth import user_service
from backend.auth.schemas import OperatorCreateIn, UserCreateIn
from backend.core.cli import command_error, read_password
from backend.core.errors import ApiError
from backend.schools import school_by_slug
from backend.tenancy import SCHOOL_ROLES, unprotected_routes

users_cli = AppGroup("users", help="Manage users.")
PASSWORD_STDIN = click.option(
    "--password-stdin", is_flag=True, help="Read the password from the first line of stdin."
)


@users_cli.command("create")
@click.option("--school", "school_slug", required=True, help="The school's slug.")
@click.option("--email", required=True)
@click.option("--full-name", required=True)
@click.option("--role", type=click.Choice(sorted(role.value for role in SCHOOL_ROLES)), required=True)
@PASSWORD_STDIN
def create_user(school_slug: str, email: str, full_name: str, role: str, password_stdin: bool) -> None:
    """Create a user. The password is prompted for (or read from stdin), never taken as an argument."""
    school = school_by_slug(school_slug)
    if school is None:
        raise click.ClickException(f"No school with slug {school_slug!r}.")
    password = read_password(password_stdin)
    try:
        data = UserCreateIn.model_validate(
            {"email": email, "full_name": full_name, "role": role, "password": password}
        )
        user = user_service.create_user(school.id, data)
    except (ApiError, ValidationError) as error:
        raise command_error(error) from None
    click.echo(f"Created {user.role} {user.email} ({user.id}) in {school_slug}.")


@users_cli.command("create-operator")
@click.option("--email", required=True)
@click.option("--full-name", required=True)
@PASSWORD_STDIN
def create_operator(email: str, full_name: str, password_stdin: bool) -> None:
    """Create a platform operator: no school, only the ops console and API. Password as for users."""
    password = read_password(password_stdin)
    try:
        user = user_service.create_operator(
            OperatorCreateIn(email=email, full_name=full_name, password=password)
        )
    except (ApiError, ValidationError) as error:
        raise command_error(error) from None
    click.echo(f"Created operator {user.email} ({user.id}).")


@users_cli.command("set-password")
@click.option("--email", required=True, help="The user's email.")
@PASSWORD_STDIN
def set_password(email: str, password_stdin: bool) -> None:
    """Set a user's password (a lost admin or demo password); every session of the user ends."""
    password = read_password(password_stdin)
    try:
        user = user_service.set_password(email, password)
    except ApiError as error:
        raise command_error(error) from None
    click.echo(f"Password set for {user.email}; their other sessions have ended.")


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
