"""`flask import KIND FILE --school SLUG [--dry-run] [--invite]`: an import from a terminal."""

from __future__ import annotations

from pathlib import Path

import click
from flask.cli import with_appcontext

from backend.auth import acting_admin
from backend.spreadsheets.imports import ImportRefused, run_import
from backend.spreadsheets.kinds import KINDS
from backend.tenancy import AuthContext


def _admin_of(slug: str) -> AuthContext:
    """The school's first active admin, as whom the import is recorded."""
    try:
        return acting_admin(slug)
    except LookupError as error:
        raise click.ClickException(str(error)) from None


@click.command("import")
@with_appcontext
@click.argument("kind", type=click.Choice(sorted(KINDS)))
@click.argument("file", type=click.Path(exists=True, dir_okay=False, path_type=Path))
@click.option("--school", "slug", required=True, help="The school's slug.")
@click.option("--dry-run", is_flag=True, help="Check every row and report; write nothing.")
@click.option("--invite", is_flag=True, help="Guardians: email an invitation to each new parent account.")
def import_command(kind: str, file: Path, slug: str, dry_run: bool, invite: bool) -> None:
    """Import a CSV file of KIND: every row or none."""
    auth = _admin_of(slug)
    raw = file.read_bytes()
    with click.progressbar(length=3, label=f"Importing {file.name}") as bar:
        bar.update(1)  # read
        try:
            report = run_import(auth, kind, raw, dry_run=dry_run, invite=invite)
        except ImportRefused as refused:
            bar.update(2)
            errors = refused.extra["report"]["errors"]
            for error in errors[:50]:
                click.echo(f"row {error['row']}, {error['column'] or '-'}: {error['message']}", err=True)
            if len(errors) > 50:
                click.echo(f"... and {len(errors) - 50} more", err=True)
            raise click.ClickException(f"{len(errors)} problem(s); nothing was written.") from None
        bar.update(2)
    verb = "Would" if dry_run else "Did"
    click.echo(
        f"{verb} create {report.create}, update {report.update}, leave {report.unchanged} unchanged "
        f"({report.rows} rows, sha256 {report.checksum[:12]})."
    )
