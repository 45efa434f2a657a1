"""The backup log: `tracked()` makes every run (create, upload, verify, restore, prune) one row in
`backup_runs` and one `backup_run` log line, whether it worked or not; and reading it back: each
file's runs, the latest runs, when the last good backup finished, and the listing of BACKUP_DIR
with each backup's runs. `history` and `carry_over` keep the log across a restore over the app's
own database, which would otherwise replace it with the copy inside the backup.
"""

from __future__ import annotations

import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

import structlog
from sqlalchemy import insert, select
from sqlalchemy.engine import make_url
from sqlalchemy.exc import SQLAlchemyError

from backend.backups.databases import scrub
from backend.backups.files import BackupError, LocalBackup, backup_folder, local_backups
from backend.backups.models import BackupRun, RunKind, RunStatus
from backend.config import Settings
from backend.core.extensions import db
from backend.core.models import utcnow

log = structlog.get_logger("homeroom.backup")


@dataclass
class Run:
    """A run in progress: what it worked on and found, filled in as it goes."""

    kind: RunKind
    file: str | None = None
    bytes: int | None = None
    checksum: str | None = None
    details: dict[str, Any] = field(default_factory=dict)
    started_at: datetime = field(default_factory=utcnow)
    clock: float = field(default_factory=time.monotonic)


@contextmanager
def tracked(settings: Settings, kind: RunKind, file: str | None = None) -> Iterator[Run]:
    """Record the block as a run: `ok` if it ends normally, `failed` (with the error) if it raises."""
    run = Run(kind, file)
    log.info("backup_run_started", kind=kind.value, file=file)
    try:
        yield run
    except BackupError as error:
        _record(run, RunStatus.FAILED, str(error))
        raise
    except Exception as error:
        _record(
            run, RunStatus.FAILED, scrub(f"{type(error).__name__}: {error}", make_url(settings.database_url))
        )
        raise
    _record(run, RunStatus.OK, None)


def _record(run: Run, status: RunStatus, error: str | None) -> None:
    finished = utcnow()
    duration_ms = round((time.monotonic() - run.clock) * 1000)
    fields = {
        "kind": run.kind.value,
        "status": status.value,
        "file": run.file,
        "bytes": run.bytes,
        "checksum": run.checksum,
        "duration_ms": duration_ms,
    }
    (log.error if error else log.info)("backup_run", **fields, error=error)
    row = BackupRun(
        **fields, started_at=run.started_at, finished_at=finished, error=error, details=run.details
    )
    try:
        db.session.add(row)
        db.session.commit()
    except SQLAlchemyError as failure:  # the database is what failed, or is not migrated yet
        db.session.rollback()
        log.warning("backup_run_not_recorded", kind=run.kind.value, error_type=type(failure).__name__)


def history() -> list[dict[str, Any]]:
    """Every row of the backup log as plain column values (none when it cannot be read)."""
    try:
        return [dict(row) for row in db.session.execute(select(BackupRun.__table__)).mappings()]
    except SQLAlchemyError:
        db.session.rollback()
        return []


def carry_over(rows: list[dict[str, Any]]) -> int:
    """Write back the rows of an earlier log that the current one lacks (matched by id); how many.
    A log that cannot take them (a backup from before the table) is a warning, not a failure: the
    restored data is what the restore is for."""
    try:
        present = set(db.session.scalars(select(BackupRun.id)))
        missing = [row for row in rows if row["id"] not in present]
        if missing:
            db.session.execute(insert(BackupRun), missing)
        db.session.commit()
    except SQLAlchemyError as failure:
        db.session.rollback()
        log.warning("backup_runs_not_kept", rows=len(rows), error_type=type(failure).__name__)
        return 0
    return len(missing)


def runs_for(files: list[str]) -> dict[str, list[BackupRun]]:
    """Each file's runs, oldest first (empty when the log cannot be read)."""
    try:
        rows = db.session.scalars(
            select(BackupRun).where(BackupRun.file.in_(files)).order_by(BackupRun.started_at)
        ).all()
    except SQLAlchemyError:
        db.session.rollback()
        return {}
    found: dict[str, list[BackupRun]] = {}
    for row in rows:
        found.setdefault(row.file or "", []).append(row)
    return found


def recent_runs(limit: int = 10) -> list[BackupRun]:
    try:
        return list(db.session.scalars(select(BackupRun).order_by(BackupRun.started_at.desc()).limit(limit)))
    except SQLAlchemyError:
        db.session.rollback()
        return []


def last_good_backup_at() -> datetime | None:
    """When the newest successful `create` finished, from the backup log."""
    return db.session.scalar(
        select(BackupRun.finished_at)
        .where(BackupRun.kind == RunKind.CREATE.value, BackupRun.status == RunStatus.OK.value)
        .order_by(BackupRun.finished_at.desc())
        .limit(1)
    )


@dataclass(frozen=True)
class ListedBackup:
    backup: LocalBackup
    size: int
    complete: bool
    runs: list[BackupRun]


def listing(settings: Settings) -> list[ListedBackup]:
    backups = local_backups(backup_folder(settings))
    runs = runs_for([backup.name for backup in backups])
    return [
        ListedBackup(backup, backup.path.stat().st_size, backup.complete, runs.get(backup.name, []))
        for backup in backups
    ]
