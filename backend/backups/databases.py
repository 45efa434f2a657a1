"""A database named by a URL, as both engines see it: which engine it is, its name and (for
SQLite) its file, a short-lived connection, the row counts per table and the migration revision
a backup records (`Snapshot`), and the URL shown or scrubbed so no password reaches a message.
The engine-specific work is in postgres.py and sqlite.py, chosen by engines.py.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from sqlalchemy import Connection, NullPool, create_engine, func, inspect, select, table
from sqlalchemy.engine import URL, Engine

from backend.backups.files import BackupError, DatabaseKind


@dataclass(frozen=True)
class Snapshot:
    """What a backup holds, read in the same snapshot the dump was taken from."""

    row_counts: dict[str, int]
    revisions: list[str]
    server_version: str


def engine_of(url: URL) -> DatabaseKind:
    backend = url.get_backend_name()
    if backend == "postgresql":
        return "postgresql"
    if backend == "sqlite":
        return "sqlite"
    raise BackupError(f"Backups support PostgreSQL and SQLite, not {backend}.")


def database_name(url: URL) -> str:
    if engine_of(url) == "sqlite":
        return Path(url.database or "database").stem
    return url.database or "postgres"


def sqlite_path(url: URL) -> Path:
    database = url.database or ""
    if not database or database == ":memory:" or database.startswith("file:"):
        raise BackupError("Backups need a SQLite database file (not :memory: or a file: URI).")
    return Path(database)


def table_counts(connection: Connection) -> dict[str, int]:
    """Rows in every table of the database's default schema."""
    names = sorted(inspect(connection).get_table_names())
    return {
        name: int(connection.execute(select(func.count()).select_from(table(name))).scalar_one())
        for name in names
    }


def connect_to(url: URL) -> Engine:
    """An engine for one command's few connections; PostgreSQL connects within 10 s or fails."""
    connect_args = {"connect_timeout": 10} if url.get_backend_name() == "postgresql" else {}
    return create_engine(url, poolclass=NullPool, connect_args=connect_args)


def counts_at(url: URL) -> dict[str, int]:
    engine = connect_to(url)
    try:
        with engine.connect() as connection:
            return table_counts(connection)
    finally:
        engine.dispose()


def scrub(message: str, url: URL) -> str:
    """A message with the URL's password taken out, whatever printed it."""
    return message.replace(url.password, "***") if url.password else message


def shown(url: URL) -> str:
    """A database URL for people and logs: the password masked, no driver name."""
    return url.set(drivername=url.get_backend_name()).render_as_string(hide_password=True)
