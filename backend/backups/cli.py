"""`flask backup create|list|verify|restore|prune|upload|fetch`: each failure exits non-zero."""

from __future__ import annotations

import math
import sys
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from functools import wraps
from typing import ParamSpec, TypeVar

import click
from flask.cli import AppGroup

from backend.backups.drill import verify
from backend.backups.files import Advance, BackupError, find_local, newest_backup
from backend.backups.making import create, fetch_offsite, upload_offsite
from backend.backups.models import BackupRun
from backend.backups.restoring import restore
from backend.backups.retention import prune
from backend.backups.runs import listing, recent_runs
from backend.config import current_settings

P = ParamSpec("P")
R = TypeVar("R")

backup_cli = AppGroup("backup", help="Back up the database, check the backups, restore one.")


@contextmanager
def terminal_stage(label: str, total: int) -> Iterator[Advance]:
    """A progress bar on stderr when it is a terminal (click shows just the label otherwise)."""
    with click.progressbar(length=max(total, 1), label=label, file=sys.stderr) as bar:
        yield bar.update


def failing_cleanly(command: Callable[P, R]) -> Callable[P, R]:
    """A BackupError ends the command with its message and exit status 1."""

    @wraps(command)
    def run(*args: P.args, **kwargs: P.kwargs) -> R:
        try:
            return command(*args, **kwargs)
        except BackupError as error:
            raise click.ClickException(str(error)) from None

    return run


def _size(count: int) -> str:
    if count < 1024:
        return f"{count} B"
    exponent = min(int(math.log(count, 1024)), 3)
    return f"{count / 1024**exponent:.1f} {('KiB', 'MiB', 'GiB')[exponent - 1]}"


@backup_cli.command("create")
@click.option("--no-upload", is_flag=True, help="Do not copy this backup off-site.")
@click.option("--no-prune", is_flag=True, help="Do not apply retention afterwards.")
@failing_cleanly
def create_command(no_upload: bool, no_prune: bool) -> None:
    """Dump the database into BACKUP_DIR (and BACKUP_S3_BUCKET), then apply retention."""
    settings = current_settings()
    backup = create(settings, terminal_stage)
    manifest = backup.manifest()
    click.echo(
        f"Backup written: {backup.path} ({_size(manifest.bytes)}, {sum(manifest.row_counts.values())} rows "
        f"in {len(manifest.row_counts)} tables, sha256 {manifest.sha256[:16]}...)"
    )
    upload_error: BackupError | None = None
    if settings.backup_s3_bucket and not no_upload:
        try:
            click.echo(f"Copied off-site: {upload_offsite(settings, backup, terminal_stage)}")
        except BackupError as error:
            upload_error = error
    if not no_prune:
        report = prune(settings, offsite=upload_error is None)
        click.echo(f"Retention: {len(report.deleted)} old backup(s) deleted, {len(report.kept)} kept.")
    if upload_error is not None:
        raise BackupError(
            f"{upload_error} The local backup is complete; copy it again with: "
            f"flask backup upload {backup.name}"
        )


@backup_cli.command("upload")
@click.argument("file", required=False)
@failing_cleanly
def upload_command(file: str | None) -> None:
    """Copy a backup (the newest if none is named) to BACKUP_S3_BUCKET."""
    settings = current_settings()
    backup = find_local(settings.backup_dir, file) if file else newest_backup(settings)
    click.echo(f"Copied off-site: {upload_offsite(settings, backup, terminal_stage)}")


@backup_cli.command("fetch")
@click.argument("name", required=False)
@failing_cleanly
def fetch_command(name: str | None) -> None:
    """Download a backup (the newest if none is named) from BACKUP_S3_BUCKET into BACKUP_DIR."""
    backup = fetch_offsite(current_settings(), name, terminal_stage)
    click.echo(f"Fetched and checked: {backup.path}")


def _run_line(run: BackupRun) -> str:
    when = f"{run.started_at:%Y-%m-%d %H:%M}Z"
    line = f"{run.kind} {run.status} {when}"
    return f"{line} ({run.error})" if run.error else line


@backup_cli.command("list")
@failing_cleanly
def list_command() -> None:
    """The backups in BACKUP_DIR, newest last, with their runs; then the latest runs of any kind."""
    settings = current_settings()
    listed = listing(settings)
    if not listed:
        click.echo(f"No backups in {settings.backup_dir}.")
    for item in listed:
        state = "finished" if item.complete else "UNFINISHED"
        runs = "; ".join(_run_line(run) for run in item.runs) or "no runs recorded"
        click.echo(f"{item.backup.name}  {_size(item.size):>10}  {state}  {runs}")
    recent = recent_runs()
    if recent:
        click.echo("\nLatest runs:")
        for run in recent:
            click.echo(f"  {_run_line(run)}  {run.file or ''}")


@backup_cli.command("prune")
@failing_cleanly
def prune_command() -> None:
    """Delete backups older than BACKUP_RETENTION_DAYS; the newest good one always stays."""
    report = prune(current_settings())
    for name in report.deleted:
        click.echo(f"deleted  {name}")
    for name in report.remote_deleted:
        click.echo(f"deleted off-site  {name}")
    click.echo(f"{len(report.deleted)} deleted, {len(report.kept)} kept.")


@backup_cli.command("verify")
@click.argument("file", required=False)
@click.option("--server-url", help="PostgreSQL server for the scratch database (default: DATABASE_URL's).")
@failing_cleanly
def verify_command(file: str | None, server_url: str | None) -> None:
    """The restore drill: restore a backup (the newest if none is named) into a scratch database,
    check migrations, row counts and audit chains, then drop it."""
    report = verify(current_settings(), file, server_url, terminal_stage)
    migrated = "upgraded to head" if report.upgraded else "at head"
    click.echo(
        f"Verified {report.backup}: restored {report.rows} rows in {report.tables} tables (counts match), "
        f"migrations {migrated}, {report.chains} audit chain(s) with {report.events} events verified."
    )


@backup_cli.command("restore")
@click.argument("file")
@click.option("--target-url", help="The database to restore into (default: DATABASE_URL).")
@click.option("--force", is_flag=True, help="Replace everything in a database that is not empty.")
@failing_cleanly
def restore_command(file: str, target_url: str | None, force: bool) -> None:
    """Restore a backup into a database: refused for a non-empty one unless --force."""
    report = restore(
        current_settings(), file, target_url, force, terminal_stage, lambda text: click.echo(text, err=True)
    )
    click.echo(
        f"Restored {report.backup} into {report.target}: {sum(report.row_counts.values())} rows in "
        f"{len(report.row_counts)} tables (counts match the backup)."
    )
    if not report.at_head:
        click.echo("The backup predates this code's migrations: run `flask db upgrade` next.", err=True)
