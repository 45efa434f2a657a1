"""Backups: create, upload, prune, verify (the restore drill), restore, list; each run logged.

Every run is one row in `backup_runs` and one `backup_run` log line, whether it worked or not.
The commands in `cli.py` call these functions and turn a `BackupError` into a non-zero exit.
"""

from __future__ import annotations

import tempfile
import time
from collections.abc import Callable, Iterator
from contextlib import ExitStack, contextmanager
from dataclasses import dataclass, field
from datetime import datetime
from itertools import groupby
from pathlib import Path
from typing import Any

import structlog
from flask import Flask
from sqlalchemy import select
from sqlalchemy.engine import URL, make_url
from sqlalchemy.exc import SQLAlchemyError

from backend.backups.databases import (
    counts_at,
    database_name,
    dump_postgres,
    dump_sqlite,
    engine_of,
    restore_postgres,
    restore_sqlite,
    scrub,
    sqlite_path,
    unpack_sqlite,
)
from backend.backups.files import (
    BackupError,
    BackupName,
    LocalBackup,
    Manifest,
    Stage,
    atomic_file,
    expired,
    find_local,
    local_backups,
    new_name,
    prepare_folder,
    quiet_stage,
    sha256_of,
    stale_partials,
    write_small,
)
from backend.backups.models import BackupRun, RunKind, RunStatus
from backend.backups.offsite import Bucket, fetch, prune_remote, reachable, upload
from backend.config import SETTINGS_EXTENSION, Settings, normalise_database_url
from backend.core.db import code_heads, database_revisions, scratch_database
from backend.core.extensions import another_app, db
from backend.core.models import utcnow
from backend.version import __version__

log = structlog.get_logger("homeroom.backup")


# --- the backup log -------------------------------------------------------------------------------


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


def check_backups(app: Flask) -> dict[str, Any]:
    """For /api/health where BACKUP_DIR is set: the last successful backup's age, `degraded` once
    it is older than BACKUP_MAX_AGE_HOURS (or when there is none)."""
    settings: Settings = app.extensions[SETTINGS_EXTENSION]
    newest = last_good_backup_at()
    limit = settings.backup_max_age_hours
    if newest is None:
        return {"status": "degraded", "reason": "no_backup_yet", "max_age_hours": limit}
    age_hours = (utcnow() - newest).total_seconds() / 3600
    return {
        "status": "ok" if age_hours <= limit else "degraded",
        "last_success_at": newest.isoformat().replace("+00:00", "Z"),
        "age_hours": round(age_hours, 2),
        "max_age_hours": limit,
    }


def check_object_storage(app: Flask) -> dict[str, Any]:
    """The backup bucket answers (a HEAD of the bucket, bounded by HEALTH_CHECK_TIMEOUT)."""
    settings: Settings = app.extensions[SETTINGS_EXTENSION]
    bucket = bucket_of(settings)
    if bucket is None:
        return {"status": "not_configured"}
    reachable(bucket, settings.health_check_timeout)
    return {"bucket": bucket.name}


# --- create and upload ----------------------------------------------------------------------------


def backup_folder(settings: Settings) -> Path:
    if settings.backup_dir is None:
        raise BackupError("BACKUP_DIR is not set: it names the folder backups are written to.")
    return settings.backup_dir


def bucket_of(settings: Settings) -> Bucket | None:
    if not settings.backup_s3_bucket:
        return None
    return Bucket(settings.backup_s3_bucket, settings.backup_s3_prefix)


def create(settings: Settings, stage: Stage = quiet_stage) -> LocalBackup:
    """Dump the configured database into BACKUP_DIR, with its manifest and checksum."""
    folder = backup_folder(settings)
    url = make_url(settings.database_url)
    now = utcnow()
    engine = engine_of(url)
    with tracked(settings, RunKind.CREATE) as run:
        prepare_folder(folder)
        name = run.file = new_name(folder, engine, database_name(url), now)
        info = BackupName.parse(name)
        assert info is not None
        backup = LocalBackup(folder / name, info)
        with atomic_file(backup.path) as out:
            if engine == "postgresql":
                snapshot = dump_postgres(url, out, settings.backup_pg_bin_dir, stage)
            else:
                snapshot = dump_sqlite(url, out, folder, stage)
        try:
            size = backup.path.stat().st_size
            with stage("Checksumming", size) as advance:
                digest = sha256_of(backup.path, advance)
            manifest = Manifest(
                file=name,
                engine=engine,
                database=info.database,
                created_at=now,
                revisions=snapshot.revisions,
                row_counts=snapshot.row_counts,
                bytes=size,
                sha256=digest,
                server_version=snapshot.server_version,
                app_version=__version__,
            )
            write_small(backup.manifest_path, manifest.model_dump_json(indent=2).encode())
            write_small(backup.checksum_path, f"{digest}  {name}\n".encode())  # last: now it is finished
        except BaseException:
            backup.delete()
            raise
        run.bytes, run.checksum = size, digest
        run.details = {
            "engine": engine,
            "database": info.database,
            "revisions": snapshot.revisions,
            "tables": len(snapshot.row_counts),
            "rows": sum(snapshot.row_counts.values()),
            "row_counts": snapshot.row_counts,
        }
    return backup


def upload_offsite(settings: Settings, backup: LocalBackup, stage: Stage = quiet_stage) -> str:
    """Copy a backup to the bucket (after checking it); where it went."""
    bucket = bucket_of(settings)
    if bucket is None:
        raise BackupError("BACKUP_S3_BUCKET is not set: there is nowhere off-site to copy to.")
    with tracked(settings, RunKind.UPLOAD, backup.name) as run:
        run.checksum = backup.check()
        run.details = {"destination": bucket.where(backup.name)}
        run.bytes = upload(bucket, backup, stage)
    return bucket.where(backup.name)


def fetch_offsite(settings: Settings, name: str | None, stage: Stage = quiet_stage) -> LocalBackup:
    bucket = bucket_of(settings)
    if bucket is None:
        raise BackupError("BACKUP_S3_BUCKET is not set: there is no off-site copy to fetch.")
    folder = backup_folder(settings)
    prepare_folder(folder)
    return fetch(bucket, name, folder, stage)


# --- retention ------------------------------------------------------------------------------------


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
        backups = local_backups(folder)
        deleted: list[LocalBackup] = []
        for _database, group in groupby(sorted(backups, key=_database_key), key=_database_key):
            deleted += expired(list(group), lambda b: b.info.order, lambda b: b.good(), now, days)
        for backup in deleted:
            backup.delete()
        partials = stale_partials(folder, now)
        for path in partials:
            path.unlink(missing_ok=True)
        gone = {backup.name for backup in deleted}
        run.details = {
            "retention_days": days,
            "deleted": sorted(gone),
            "kept": [backup.name for backup in backups if backup.name not in gone],
            "partials": [path.name for path in partials],
        }
        bucket = bucket_of(settings) if offsite else None
        remote: list[str] = []
        if bucket is not None:
            try:
                remote = prune_remote(bucket, now, days)
            except BackupError as error:
                raise BackupError(f"Local backups pruned ({len(gone)} deleted); {error}") from None
        run.details["remote_deleted"] = remote
    log.info("backups_pruned", deleted=len(gone), kept=len(backups) - len(gone), remote=len(remote))
    return PruneReport(
        deleted=run.details["deleted"],
        kept=run.details["kept"],
        partials=run.details["partials"],
        remote_deleted=remote,
    )


def _database_key(backup: LocalBackup) -> tuple[str, str]:
    return (backup.info.database, backup.info.engine)


# --- restore and verify ---------------------------------------------------------------------------


def newest_backup(settings: Settings) -> LocalBackup:
    finished = [backup for backup in local_backups(backup_folder(settings)) if backup.complete]
    if not finished:
        raise BackupError(f"There is no finished backup in {settings.backup_dir}.")
    return finished[-1]


def _checked(backup: LocalBackup, stage: Stage) -> Manifest:
    """The checksum first: a corrupted file is refused before anything is touched."""
    with stage(f"Checking {backup.name}", backup.path.stat().st_size) as advance:
        backup.check(advance)
    manifest = backup.manifest()
    if manifest.file != backup.name or manifest.sha256 != backup.recorded_checksum():
        raise BackupError(f"{backup.manifest_path.name} describes another backup than {backup.name}.")
    return manifest


def _restore_into(
    settings: Settings, backup: LocalBackup, manifest: Manifest, url: URL, stage: Stage, replace: bool
) -> None:
    if manifest.engine == "postgresql":
        restore_postgres(
            backup.path, url, settings.backup_pg_bin_dir, stage, len(manifest.row_counts), replace
        )
        return
    target = sqlite_path(url)
    target.parent.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory(dir=target.parent, prefix=".homeroom-restore-") as scratch:
        unpacked = Path(scratch) / "backup.sqlite3"
        unpack_sqlite(backup.path, unpacked, stage)
        restore_sqlite(unpacked, url)


def _existing_tables(url: URL) -> dict[str, int]:
    if engine_of(url) == "sqlite" and not sqlite_path(url).exists():
        return {}
    try:
        return counts_at(url)
    except SQLAlchemyError as error:
        raise BackupError(
            scrub(f"Cannot read the target database: {error.__cause__ or error}", url)
        ) from None


def _count_mismatches(expected: dict[str, int], found: dict[str, int]) -> list[str]:
    return [
        f"{name}: {expected.get(name, 'absent')} in the backup, {found.get(name, 'absent')} restored"
        for name in sorted(expected.keys() | found.keys())
        if expected.get(name) != found.get(name)
    ]


def shown(url: URL) -> str:
    """A database URL for people and logs: the password masked, no driver name."""
    return url.set(drivername=url.get_backend_name()).render_as_string(hide_password=True)


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
        manifest = _checked(backup, stage)
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
        if url == make_url(settings.database_url):
            db.session.remove()
            for engine in db.engines.values():
                engine.dispose()
        _restore_into(settings, backup, manifest, url, stage, replace=bool(existing))
        restored = counts_at(url)
        problems = _count_mismatches(manifest.row_counts, restored)
        if problems:
            raise BackupError(f"Restored, but the row counts differ from the backup's: {'; '.join(problems)}")
        at_head = frozenset(manifest.revisions) == code_heads()
        run.details.update(row_counts=restored, revisions=manifest.revisions, at_head=at_head)
    return RestoreReport(backup.name, shown(url), existing, restored, manifest.revisions, at_head)


def _describe_tables(counts: dict[str, int]) -> str:
    listed = ", ".join(f"{name} {rows}" for name, rows in sorted(counts.items()))
    return f"{len(counts)} tables, {sum(counts.values())} rows: {listed}"


@dataclass(frozen=True)
class VerifyReport:
    backup: str
    tables: int
    rows: int
    revisions: list[str]
    upgraded: bool
    chains: int
    events: int


def verify(
    settings: Settings, given: str | None, server_url: str | None = None, stage: Stage = quiet_stage
) -> VerifyReport:
    """The restore drill: restore into a scratch database, check the migrations reach head, the
    row counts match the manifest and every audit chain verifies; drop the scratch database."""
    backup = find_local(settings.backup_dir, given) if given else newest_backup(settings)
    with tracked(settings, RunKind.VERIFY, backup.name) as run:
        manifest = _checked(backup, stage)
        run.checksum, run.bytes = manifest.sha256, manifest.bytes
        with _scratch(settings, manifest, server_url) as url:
            run.details = {"scratch": shown(url)}
            _restore_into(settings, backup, manifest, url, stage, replace=False)
            problems = _count_mismatches(manifest.row_counts, counts_at(url))
            if problems:
                raise BackupError(f"Row counts differ from the backup's manifest: {'; '.join(problems)}")
            upgraded, chains, events, broken = _drill(settings, url)
        run.details.update(
            tables=len(manifest.row_counts),
            rows=sum(manifest.row_counts.values()),
            revisions=manifest.revisions,
            upgraded_to_head=upgraded,
            audit_chains=chains,
            audit_events=events,
        )
        if broken:
            raise BackupError(f"The restored audit trail does not verify: {'; '.join(broken)}")
    return VerifyReport(
        backup.name,
        len(manifest.row_counts),
        sum(manifest.row_counts.values()),
        manifest.revisions,
        upgraded,
        chains,
        events,
    )


@contextmanager
def _scratch(settings: Settings, manifest: Manifest, server_url: str | None) -> Iterator[URL]:
    """A database that exists for the drill only: a new PostgreSQL database on the server (the
    configured one's by default), or a SQLite file in a temporary folder; gone afterwards."""
    if manifest.engine == "postgresql":
        server = server_url or settings.database_url
        if engine_of(make_url(server)) != "postgresql":
            raise BackupError("A PostgreSQL backup is verified on a PostgreSQL server: give --server-url.")
        stack = ExitStack()
        try:
            url = stack.enter_context(scratch_database(server, "homeroom_verify"))
        except SQLAlchemyError as error:
            raise BackupError(
                scrub(f"Cannot make a scratch database: {error.__cause__ or error}", make_url(server))
            ) from None
        with stack:
            yield make_url(url)
        return
    folder = settings.backup_dir or Path(tempfile.gettempdir())
    with tempfile.TemporaryDirectory(dir=folder, prefix=".homeroom-verify-") as scratch:
        yield URL.create("sqlite", database=str(Path(scratch) / "verify.sqlite3"))


def _drill(settings: Settings, url: URL) -> tuple[bool, int, int, list[str]]:
    """On the restored copy: migrate to head if it is behind (proving it can be), then verify
    every audit chain. (Whether upgraded, chains, events, broken links.)"""
    from flask_migrate import upgrade

    from backend.audit import chain_ids, verify_chain
    from backend.core.db import dispose_pools

    copy = settings.model_copy(
        update={
            "database_url": url.render_as_string(hide_password=False),
            "redis_url": None,
            "backup_dir": None,
            "backup_s3_bucket": None,
        }
    )
    app = another_app(copy)
    try:
        with app.app_context():
            with db.engine.connect() as connection:
                current = database_revisions(connection)
            upgraded = current != code_heads()
            if upgraded:
                try:
                    upgrade()
                except Exception as error:  # noqa: BLE001 - Alembic raises several kinds; all mean the same
                    raise BackupError(
                        f"The backup is at revision {', '.join(sorted(current)) or '(none)'}, which does "
                        f"not migrate to this code's head ({', '.join(sorted(code_heads()))}): "
                        f"{type(error).__name__}."
                    ) from None
            broken, events = [], 0
            chains = chain_ids()
            for chain in chains:
                checked, problem = verify_chain(chain)
                events += checked
                if problem is not None:
                    broken.append(f"chain {chain} at event {problem.seq}: {problem.reason}")
            db.session.remove()
        return upgraded, len(chains), events, broken
    finally:
        dispose_pools(app)


# --- listing --------------------------------------------------------------------------------------


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
