"""The SQLite side of backups: a consistent copy through SQLite's online backup API, gzipped; and
back again: gunzip into a scratch file, check its integrity, copy it over the target through the
same API, so other connections see the old database or the new one, never a mix. A restore into
a file that does not exist yet makes it with mode 600, like the backup it came from.
"""

from __future__ import annotations

import contextlib
import gzip
import os
import sqlite3
import tempfile
from pathlib import Path
from typing import BinaryIO

from sqlalchemy import text
from sqlalchemy.engine import URL

from backend.backups.databases import Snapshot, connect_to, sqlite_path, table_counts
from backend.backups.files import CHUNK, FILE_MODE, BackupError, Stage
from backend.core.db import database_revisions


def dump_sqlite(url: URL, out: BinaryIO, workdir: Path, stage: Stage) -> Snapshot:
    """A consistent copy through SQLite's online backup API, then gzip.

    The copy is taken in one step, inside one read transaction: in WAL mode the app keeps writing
    meanwhile, and the copy is the database as of that transaction (never a file copy of a live
    database, whose WAL holds what the main file does not)."""
    source_path = sqlite_path(url)
    if not source_path.is_file():
        raise BackupError(f"The SQLite database {source_path} does not exist.")
    with tempfile.TemporaryDirectory(dir=workdir, prefix=".homeroom-backup-") as scratch:
        copy = Path(scratch) / "copy.sqlite3"
        source = sqlite3.connect(source_path, timeout=30)
        target = sqlite3.connect(copy)
        try:
            with stage("Copying the database", 1) as advance:
                source.backup(target)
                advance(1)
        except sqlite3.Error as error:
            raise BackupError(f"The SQLite backup failed: {error}") from None
        finally:
            target.close()
            source.close()
        snapshot = _sqlite_snapshot(copy)
        size = copy.stat().st_size
        with (
            stage("Compressing", size) as advance,
            copy.open("rb") as raw,
            gzip.GzipFile(fileobj=out, mode="wb", compresslevel=6, mtime=0) as packed,
        ):
            while chunk := raw.read(CHUNK):
                packed.write(chunk)
                advance(len(chunk))
    return snapshot


def _sqlite_snapshot(path: Path) -> Snapshot:
    engine = connect_to(URL.create("sqlite", database=str(path)))
    try:
        with engine.connect() as connection:
            version = str(connection.execute(text("SELECT sqlite_version()")).scalar_one())
            return Snapshot(
                table_counts(connection), sorted(database_revisions(connection)), f"SQLite {version}"
            )
    finally:
        engine.dispose()


def restore_sqlite(packed: Path, url: URL, stage: Stage) -> None:
    """Unpack the backup beside the target (in a scratch folder, gone afterwards) and copy it over."""
    target = sqlite_path(url)
    target.parent.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory(dir=target.parent, prefix=".homeroom-restore-") as scratch:
        unpacked = Path(scratch) / "backup.sqlite3"
        _unpack(packed, unpacked, stage)
        _copy_over(unpacked, url)


def _unpack(packed: Path, into: Path, stage: Stage) -> None:
    """Gunzip a backup and check it is a sound SQLite database."""
    size = packed.stat().st_size
    try:
        with (
            stage("Decompressing", size) as advance,
            packed.open("rb") as raw,
            into.open("wb") as plain,
            gzip.GzipFile(fileobj=raw, mode="rb") as stream,
        ):
            read = 0
            while chunk := stream.read(CHUNK):
                plain.write(chunk)
                advance(raw.tell() - read)  # progress in compressed bytes, out of the file's size
                read = raw.tell()
    except (OSError, EOFError) as error:
        raise BackupError(f"{packed.name} is not a readable gzip file: {error}") from None
    try:
        with contextlib.closing(sqlite3.connect(into)) as connection:
            result = connection.execute("PRAGMA integrity_check").fetchone()
    except sqlite3.DatabaseError as error:
        raise BackupError(f"{packed.name} does not hold a SQLite database: {error}") from None
    if result is None or result[0] != "ok":
        raise BackupError(f"{packed.name} holds a damaged SQLite database ({result[0] if result else '?'}).")


def _copy_over(unpacked: Path, url: URL) -> None:
    """Copy the unpacked backup over the target through the backup API: other connections see the
    old database or the new one, never a mix."""
    target_path = sqlite_path(url)
    target_path.parent.mkdir(parents=True, exist_ok=True)
    _private_file(target_path)
    source = sqlite3.connect(unpacked)
    target = sqlite3.connect(target_path, timeout=30)
    try:
        source.backup(target)
    except sqlite3.Error as error:
        raise BackupError(f"Restoring into {target_path} failed: {error}") from None
    finally:
        target.close()
        source.close()


def _private_file(path: Path) -> None:
    """`path` made empty with mode 600 if it does not exist: SQLite writes into it (an empty file is
    an empty database) and gives its journal the same mode."""
    with contextlib.suppress(FileExistsError):
        os.close(os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, FILE_MODE))
