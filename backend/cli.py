"""Application-wide CLI commands; features add their own groups in their `cli.py`."""

from __future__ import annotations

import itertools
import time

import click
from cryptography.fernet import Fernet
from flask import Flask, current_app
from flask.cli import AppGroup, with_appcontext

from backend import audit
from backend.config import Settings, current_settings
from backend.core.db import ping
from backend.core.errors import DATABASE_UNAVAILABLE
from backend.core.extensions import db
from backend.core.key_rotation import rotate_all, rows_to_check

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


crypto_cli = AppGroup("crypto", help="Encryption keys for data at rest.")


@crypto_cli.command("generate-key")
def generate_key() -> None:
    """Print a new Fernet key: put it first in ENCRYPTION_KEYS, then run `crypto rotate`."""
    click.echo(Fernet.generate_key().decode())


@crypto_cli.command("rotate")
@click.option("--batch-size", default=500, show_default=True, type=click.IntRange(1, 10_000))
def rotate(batch_size: int) -> None:
    """Re-encrypt every encrypted value under the first key of ENCRYPTION_KEYS (resumable)."""
    with click.progressbar(length=rows_to_check(), label="Re-encrypting") as bar:
        report = rotate_all(bar.update, batch_size)
    audit.record(
        None, "crypto.rotate", changes={"rows_checked": report.rows, "values_rotated": report.rotated}
    )
    db.session.commit()
    click.echo(f"Checked {report.rows} rows; re-encrypted {report.rotated} values under the first key.")
    if report.rotated == 0:
        click.echo("Everything was already under the first key: older keys can be removed.", err=True)


def init_app(app: Flask, settings: Settings) -> None:
    """The application-wide commands; each feature adds its own in its `init_app`."""
    app.cli.add_command(config_cli)
    app.cli.add_command(wait_for_db)
    app.cli.add_command(crypto_cli)
