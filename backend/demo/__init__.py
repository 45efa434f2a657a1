"""Demo data for trying Homeroom out: `flask demo seed`."""

from __future__ import annotations

from flask import Flask

from backend.config import Settings


def init_app(app: Flask, settings: Settings) -> None:
    from backend.demo.cli import demo_cli

    app.cli.add_command(demo_cli)
