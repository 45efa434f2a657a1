"""`flask audit verify` and `flask audit purge`."""

from __future__ import annotations

import click
from flask.cli import AppGroup

from backend.audit.service import chain_ids, purge, verify_chain
from backend.config import current_settings

audit_cli = AppGroup("audit", help="Check and prune the audit trail.")


@audit_cli.command("verify")
def verify_command() -> None:
    """Walk every chain and report the first broken link of each; exit 1 if any is broken."""
    chains = chain_ids()
    broken = 0
    with click.progressbar(chains, label="Verifying audit chains") as bar:
        results = [(chain, *verify_chain(chain)) for chain in bar]
    for chain, checked, problem in results:
        if problem is None:
            click.echo(f"ok      chain {chain}: {checked} events")
        else:
            broken += 1
            click.echo(
                f"BROKEN  chain {chain}: event seq {problem.seq} ({problem.event_id}): {problem.reason}"
            )
    if broken:
        raise click.ClickException(f"{broken} of {len(results)} chain(s) are broken.")
    click.echo(f"All {len(results)} chain(s) verified.", err=True)


@audit_cli.command("purge")
def purge_command() -> None:
    """Delete events older than AUDIT_RETENTION_DAYS (at least 90; younger ones are never touched)."""
    days = current_settings().audit_retention_days
    deleted = purge(days)
    click.echo(f"Deleted {deleted} audit event(s) older than {days} days.")
