"""Schools: the tenants. The school record, creating one, and the school's own facts (its day)."""

from __future__ import annotations

from flask import Flask

from backend.config import Settings


def init_app(app: Flask, settings: Settings) -> None:
    from backend.schools.cli import schools_cli

    app.cli.add_command(schools_cli)
