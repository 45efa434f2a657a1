"""Application-wide CLI commands; features add their own groups in their `cli.py`."""

from __future__ import annotations

import click
from flask import Flask
from flask.cli import AppGroup

from backend.config import current_settings

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


def register_cli(app: Flask) -> None:
    app.cli.add_command(config_cli)
