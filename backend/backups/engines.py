"""The one interface over both engines: `dump` writes the database at a URL into a backup file
and `restore` puts a backup file back into one, each handing the work to postgres.py (pg_dump,
pg_restore and psql) or sqlite.py (the online backup API and gzip) by the URL's engine.
"""

from __future__ import annotations

from pathlib import Path
from typing import BinaryIO

from sqlalchemy.engine import URL

from backend.backups.databases import Snapshot, engine_of
from backend.backups.files import Stage
from backend.backups.postgres import dump_postgres, restore_postgres
from backend.backups.sqlite import dump_sqlite, restore_sqlite


def dump(url: URL, out: BinaryIO, workdir: Path, bin_dir: Path | None, stage: Stage) -> Snapshot:
    """Write the database into `out`; what it held (`workdir` takes SQLite's scratch copy)."""
    if engine_of(url) == "postgresql":
        return dump_postgres(url, out, bin_dir, stage)
    return dump_sqlite(url, out, workdir, stage)


def restore(
    backup: Path, url: URL, bin_dir: Path | None, stage: Stage, tables: int, replace: bool, app_role: str
) -> None:
    """Put the backup file into the database at `url`. `replace` says the target holds tables that
    go: PostgreSQL drops its public schema first; SQLite's copy replaces the whole file anyway.
    On PostgreSQL the app's role (`app_role`) is granted the restored data."""
    if engine_of(url) == "postgresql":
        restore_postgres(backup, url, bin_dir, stage, tables, replace, app_role)
    else:
        restore_sqlite(backup, url, stage)
