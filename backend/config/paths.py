"""Where the project is on disk, and the one rule for relative paths in the configuration: they
are anchored at the project root (files such as BACKUP_DIR, and SQLite database files), so the
app finds the same files whatever directory it is started from. Database URLs are normalised here
too: PostgreSQL is served through psycopg 3."""

from __future__ import annotations

from pathlib import Path

from sqlalchemy.engine import URL, make_url
from sqlalchemy.exc import ArgumentError

# This file is backend/config/paths.py: the project root is three levels up.
PROJECT_ROOT = Path(__file__).resolve().parent.parent.parent


def anchored(path: Path) -> Path:
    """`path` itself when absolute, else the same path under the project root."""
    return path if path.is_absolute() else PROJECT_ROOT / path


def sqlite_file(url: URL) -> Path | None:
    """The file a SQLite URL names; None for an in-memory database or a `file:` URI."""
    database = url.database or ""
    if not database or database == ":memory:" or database.startswith("file:"):
        return None
    return Path(database)


def normalise_database_url(raw: str) -> URL:
    """Parse a database URL, serve PostgreSQL through psycopg 3 and anchor relative SQLite paths."""
    try:
        url = make_url(raw)
    except ArgumentError:
        raise ValueError("is not a valid database URL") from None
    backend = url.get_backend_name()
    if backend in ("postgres", "postgresql"):
        return url.set(drivername="postgresql+psycopg")
    if backend == "sqlite":
        path = sqlite_file(url)
        if path is not None and not path.is_absolute():
            url = url.set(database=str(anchored(path)))
        return url
    raise ValueError("must be a postgresql:// or sqlite:// URL")
