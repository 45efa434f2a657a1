"""Making a backup and moving copies of it: `create` dumps the configured database into BACKUP_DIR
with its manifest and checksum (the checksum last); `upload_offsite` copies a checked backup to
the bucket and `fetch_offsite` brings one back. Each is a tracked run in the backup log.
"""

from __future__ import annotations

from sqlalchemy.engine import make_url

from backend.backups import engines
from backend.backups.databases import database_name, engine_of
from backend.backups.files import (
    BackupError,
    BackupName,
    LocalBackup,
    Manifest,
    Stage,
    atomic_file,
    backup_folder,
    new_name,
    prepare_folder,
    quiet_stage,
    sha256_of,
    write_small,
)
from backend.backups.models import RunKind
from backend.backups.offsite import bucket_of, fetch, upload
from backend.backups.runs import tracked
from backend.config import Settings
from backend.core.models import utcnow
from backend.version import __version__


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
            snapshot = engines.dump(url, out, folder, settings.backup_pg_bin_dir, stage)
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
