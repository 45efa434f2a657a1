"""Application-wide CLI commands; features add their own groups in their `cli.py`."""

from __future__ import annotations

import itertools
import time

import click
from flask import Flask, current_app
from flask.cli import AppGroup, with_appcontext

from backend.config import current_settings
from backend.core.db import ping
from backend.core.errors import DATABASE_UNAVAILABLE

config_cli = AppGroup("config", help="Inspect and validate the configuration.")


@config_cli.command("check")
def config_check() -> None:
    """Validate the configuration and print the effective values, secrets masked.

    Reaching this command means validation passed: an invalid configuration stops the app
    from being built and is reported one line per problem, with exit status 78.
    """
    for name, value in current_settings().masked().items():
        click.echo(f"{name}={value}")
    click.echo("Configuration is valid.", err=True)


@click.command("wait-for-db")
@click.option("--timeout", default=60.0, show_default=True, help="Give up after this many seconds.")
@click.option("--interval", default=2.0, show_default=True, help="Seconds between attempts.")
@with_appcontext
def wait_for_db(timeout: float, interval: float) -> None:
    """Wait until the database answers, with bounded retries (used before migrating at start-up)."""
    deadline = time.monotonic() + timeout
    for attempt in itertools.count(1):
        try:
            ping(current_app)
        except DATABASE_UNAVAILABLE as error:
            remaining = deadline - time.monotonic()
            if remaining <= 0:
                raise click.ClickException(
                    f"The database did not answer within {timeout:g} s ({attempt} attempts; "
                    f"last error: {type(error).__name__})."
                ) from None
            click.echo(f"Waiting for the database (attempt {attempt}, {type(error).__name__})...", err=True)
            time.sleep(min(interval, remaining))
        else:
            click.echo(f"The database is reachable (attempt {attempt}).", err=True)
            return


def register_cli(app: Flask) -> None:
    app.cli.add_command(config_cli)
    app.cli.add_command(wait_for_db)
