"""Restoring a backup (`flask backup restore`): the checksum and manifest checked before anything
is touched, a target that holds tables replaced only when forced, and the restored row counts
compared with the manifest's. A restore over the app's own database keeps the instance's backup
log: the rows read before are written back after (see `_restore_over_own`), so the log then holds
every earlier run plus the restore itself. `checked` and `count_mismatches` are the checks the
drill shares.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from sqlalchemy.engine import URL, make_url
from sqlalchemy.exc import SQLAlchemyError

from backend.backups import engines
from backend.backups.databases import counts_at, engine_of, scrub, shown, sqlite_path
from backend.backups.files import BackupError, LocalBackup, Manifest, Stage, find_local, quiet_stage
from backend.backups.models import RunKind
from backend.backups.runs import Run, carry_over, history, tracked
from backend.config import Settings, normalise_database_url
from backend.core.db import code_heads
from backend.core.extensions import db


def checked(backup: LocalBackup, stage: Stage) -> Manifest:
    """The checksum first: a corrupted file is refused before anything is touched."""
    with stage(f"Checking {backup.name}", backup.path.stat().st_size) as advance:
        backup.check(advance)
    manifest = backup.manifest()
    if manifest.file != backup.name or manifest.sha256 != backup.recorded_checksum():
        raise BackupError(f"{backup.manifest_path.name} describes another backup than {backup.name}.")
    return manifest


def count_mismatches(expected: dict[str, int], found: dict[str, int]) -> list[str]:
    return [
        f"{name}: {expected.get(name, 'absent')} in the backup, {found.get(name, 'absent')} restored"
        for name in sorted(expected.keys() | found.keys())
        if expected.get(name) != found.get(name)
    ]


@dataclass(frozen=True)
class RestoreReport:
    backup: str
    target: str
    replaced: dict[str, int]
    row_counts: dict[str, int]
    revisions: list[str]
    at_head: bool


def restore(
    settings: Settings,
    given: str,
    target_url: str | None,
    force: bool,
    stage: Stage = quiet_stage,
    announce: Callable[[str], None] = lambda _text: None,
) -> RestoreReport:
    """Restore a backup into the target (by default the configured database). A target that holds
    tables is replaced only with `force`, after `announce` has been told what goes."""
    backup = find_local(settings.backup_dir, given)
    url = normalise_database_url(target_url) if target_url else make_url(settings.database_url)
    with tracked(settings, RunKind.RESTORE, backup.name) as run:
        run.details = {"target": shown(url)}
        manifest = checked(backup, stage)
        run.checksum, run.bytes = manifest.sha256, manifest.bytes
        if manifest.engine != engine_of(url):
            raise BackupError(
                f"{backup.name} is a {manifest.engine} backup; it restores into {manifest.engine}, "
                f"not into the {engine_of(url)} database {shown(url)}."
            )
        existing = _existing_tables(url)
        if existing and not force:
            raise BackupError(
                f"The target database {shown(url)} is not empty ({_describe_tables(existing)}). "
                "Nothing was changed. Restore into an empty database, or add --force to replace "
                "everything in it."
            )
        if existing:
            announce(
                f"Replacing everything in {shown(url)}: {_describe_tables(existing)}. "
                f"It will hold {backup.name} ({sum(manifest.row_counts.values())} rows in "
                f"{len(manifest.row_counts)} tables, made {manifest.created_at:%Y-%m-%d %H:%M} UTC)."
            )
        run.details["replaced"] = existing
        own = url == make_url(settings.database_url)
        kept = history() if own else []
        if own:
            db.session.remove()
            for engine in db.engines.values():
                engine.dispose()
        engines.restore(
            backup.path,
            url,
            settings.backup_pg_bin_dir,
            stage,
            len(manifest.row_counts),
            replace=bool(existing),
            app_role=settings.db_app_role,
        )
        restored = counts_at(url)  # the backup's rows, before the instance's log is written back
        if own:
            _keep_history(run, kept)
        problems = count_mismatches(manifest.row_counts, restored)
        if problems:
            raise BackupError(f"Restored, but the row counts differ from the backup's: {'; '.join(problems)}")
        at_head = frozenset(manifest.revisions) == code_heads()
        run.details.update(row_counts=restored, revisions=manifest.revisions, at_head=at_head)
    return RestoreReport(backup.name, shown(url), existing, restored, manifest.revisions, at_head)


def _keep_history(run: Run, kept: list[dict[str, Any]]) -> None:
    """After a restore over the app's own database (even one whose counts then differ): the
    instance's runs from before it are written back. The restored database's own older runs that
    the instance lacks stay too (a backup from another instance brings its history along, and
    nothing of either log is lost); the same run in both is one row (by id). The restore's own run
    is recorded after this, by `tracked`, so it lands in the restored database too."""
    run.details["history_kept"] = carry_over(kept)


def _existing_tables(url: URL) -> dict[str, int]:
    if engine_of(url) == "sqlite" and not sqlite_path(url).exists():
        return {}
    try:
        return counts_at(url)
    except SQLAlchemyError as error:
        raise BackupError(
            scrub(f"Cannot read the target database: {error.__cause__ or error}", url)
        ) from None


def _describe_tables(counts: dict[str, int]) -> str:
    listed = ", ".join(f"{name} {rows}" for name, rows in sorted(counts.items()))
    return f"{len(counts)} tables, {sum(counts.values())} rows: {listed}"
