"""Retention (`flask backup prune`, and after each `create`): keep BACKUP_RETENTION_DAYS of
backups of each database and always the newest good one, remove temporary files left by runs
that died, and apply the same rule in the bucket. The rule itself is `files.expired()`.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from itertools import groupby
from pathlib import Path

from backend.backups.files import (
    BackupError,
    LocalBackup,
    backup_folder,
    expired,
    local_backups,
    stale_partials,
)
from backend.backups.models import RunKind
from backend.backups.offsite import bucket_of, prune_remote
from backend.backups.runs import log, tracked
from backend.config import Settings
from backend.core.models import utcnow


@dataclass(frozen=True)
class PruneReport:
    deleted: list[str]
    kept: list[str]
    partials: list[str]
    remote_deleted: list[str]


def prune(settings: Settings, now: datetime | None = None, *, offsite: bool = True) -> PruneReport:
    """Keep BACKUP_RETENTION_DAYS of backups of each database, and always the newest good one;
    in the bucket too (unless `offsite` is False)."""
    folder = backup_folder(settings)
    now = now or utcnow()
    days = settings.backup_retention_days
    with tracked(settings, RunKind.PRUNE) as run:
        backups, gone, partials = _prune_local(folder, now, days)
        run.details = {
            "retention_days": days,
            "deleted": sorted(gone),
            "kept": [backup.name for backup in backups if backup.name not in gone],
            "partials": [path.name for path in partials],
        }
        remote = _prune_offsite(settings, now, days, len(gone)) if offsite else []
        run.details["remote_deleted"] = remote
    log.info("backups_pruned", deleted=len(gone), kept=len(backups) - len(gone), remote=len(remote))
    return PruneReport(
        deleted=run.details["deleted"],
        kept=run.details["kept"],
        partials=run.details["partials"],
        remote_deleted=remote,
    )


def _prune_local(folder: Path, now: datetime, days: int) -> tuple[list[LocalBackup], set[str], list[Path]]:
    """Delete the expired backups of each database and the stale partial files: the backups that
    were there, the names of those deleted, the partial files removed."""
    backups = local_backups(folder)
    deleted: list[LocalBackup] = []
    for _database, group in groupby(sorted(backups, key=_database_key), key=_database_key):
        deleted += expired(list(group), lambda b: b.info.order, lambda b: b.good(), now, days)
    for backup in deleted:
        backup.delete()
    partials = stale_partials(folder, now)
    for path in partials:
        path.unlink(missing_ok=True)
    return backups, {backup.name for backup in deleted}, partials


def _prune_offsite(settings: Settings, now: datetime, days: int, deleted_locally: int) -> list[str]:
    """Retention in the bucket, where there is one: the names deleted there."""
    bucket = bucket_of(settings)
    if bucket is None:
        return []
    try:
        return prune_remote(bucket, now, days)
    except BackupError as error:
        raise BackupError(f"Local backups pruned ({deleted_locally} deleted); {error}") from None


def _database_key(backup: LocalBackup) -> tuple[str, str]:
    return (backup.info.database, backup.info.engine)
