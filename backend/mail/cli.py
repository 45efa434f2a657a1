"""`flask outbox run` (the sender; stops cleanly on SIGTERM) and `flask outbox status`."""

from __future__ import annotations

from datetime import timedelta

import click
from flask import current_app
from flask.cli import AppGroup

from backend.config import current_settings
from backend.core.models import utcnow
from backend.mail.outbox import purge, status
from backend.mail.sender import Sender, before_round_hooks

outbox_cli = AppGroup("outbox", help="Email waiting to be delivered.")


@outbox_cli.command("run")
@click.option(
    "--max-seconds", type=float, default=None, help="Stop after this long (default: run until stopped)."
)
@click.option("--until-idle", is_flag=True, help="Stop when nothing is left to send (a one-off drain).")
def run_command(max_seconds: float | None, until_idle: bool) -> None:
    """Deliver queued email over SMTP_URL and run background jobs (scheduled announcements, the
    Xero sync) until SIGTERM (finishing the message or job in hand)."""
    settings = current_settings()
    if settings.smtp_url is None:
        click.echo(
            "SMTP_URL is not set: email stays queued (see `flask outbox status`); running background"
            " jobs (scheduled announcements, Xero) only."
        )
    app = current_app._get_current_object()  # type: ignore[attr-defined]  # the proxy's real app
    sender = Sender(
        app, settings, before_round=before_round_hooks(app), deliver_mail=settings.smtp_url is not None
    )
    sender.install_signal_handlers()
    totals = sender.run(max_seconds=max_seconds, until_idle=until_idle)
    click.echo(f"Stopped: {totals.sent} sent, {totals.failed} failed attempts.")


@outbox_cli.command("status")
def status_command() -> None:
    """Messages by status and kind, and how long the oldest due one has waited."""
    state = status()
    if not state.counts:
        click.echo("The outbox is empty.")
    for state_name in ("queued", "sending", "sent", "dead", "cancelled"):
        kinds = state.counts.get(state_name, {})
        if kinds:
            detail = ", ".join(f"{kind} {count}" for kind, count in sorted(kinds.items()))
            click.echo(f"{state_name:<10} {sum(kinds.values()):>6}  ({detail})")
    if state.oldest_due is not None:
        click.echo(f"Oldest due message waiting {round((utcnow() - state.oldest_due).total_seconds())} s.")
    if current_settings().smtp_url is None:
        click.echo("SMTP_URL is not set: queued messages are not being sent.")


@outbox_cli.command("purge")
@click.option("--days", type=click.IntRange(min=30), default=400, show_default=True)
def purge_command(days: int) -> None:
    """Delete sent and cancelled messages older than DAYS (dead ones stay for an operator)."""
    click.echo(f"Deleted {purge(timedelta(days=days))} sent or cancelled messages older than {days} days.")
