"""`flask schools create`."""

from __future__ import annotations

import click
from flask.cli import AppGroup

from backend.core.cli import command_error
from backend.core.errors import ApiError
from backend.schools import service

schools_cli = AppGroup("schools", help="Manage schools.")


@schools_cli.command("create")
@click.option("--name", required=True)
@click.option("--slug", required=True, help="Short unique name: lower-case letters, digits, hyphens.")
@click.option("--timezone", "timezone_name", required=True, help="IANA time zone, e.g. Europe/London.")
@click.option("--currency", required=True, help="ISO 4217 code, e.g. GBP.")
def create_school(name: str, slug: str, timezone_name: str, currency: str) -> None:
    """Create a school."""
    try:
        school = service.create_school(name, slug, timezone_name, currency.upper())
    except ApiError as error:
        raise command_error(error) from None
    click.echo(f"Created school {school.slug} ({school.id}).")
