"""`flask fees remind`: the daily fee reminders (a CronJob in deploy/k8s/mail.yaml)."""

from __future__ import annotations

import click
from flask.cli import AppGroup
from sqlalchemy import func, select

from backend.config import current_settings
from backend.core.extensions import db
from backend.fees.reminders import remind
from backend.schools import School

fees_cli = AppGroup("fees", help="Fees.")


@fees_cli.command("remind")
def remind_command() -> None:
    """Queue reminders for invoices due within FEE_REMINDER_DAYS and overdue ones (once per stage)."""
    schools = db.session.scalar(select(func.count()).select_from(School)) or 0
    with click.progressbar(length=schools, label="Checking each school's invoices") as bar:
        result = remind(current_settings(), bar.update)
    click.echo(
        f"{result.queued} reminders queued for {result.invoices} invoices in {result.schools} schools."
    )
