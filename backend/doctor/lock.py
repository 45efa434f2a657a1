"""One scan or fix at a time across every instance: `exclusive()` holds a PostgreSQL advisory lock,
or a file lock beside a SQLite database, and raises `DoctorBusy` at once if someone else does."""

from __future__ import annotations

import hashlib
import sys
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import IO

from sqlalchemy import Engine, text

from backend.doctor.errors import DoctorBusy

if sys.platform == "win32":
    import msvcrt
else:
    import fcntl

# pg_try_advisory_lock's key: "homeroom doctor" as a 63-bit number, the same for every instance.
ADVISORY_KEY = int.from_bytes(hashlib.sha256(b"homeroom doctor").digest()[:8], "big") >> 1


@contextmanager
def exclusive(engine: Engine) -> Iterator[None]:
    """Hold the doctor's lock for the block, or raise DoctorBusy at once if someone else does."""
    if engine.dialect.name == "postgresql":
        with engine.connect() as connection:
            connection = connection.execution_options(isolation_level="AUTOCOMMIT")
            if not connection.execute(text("SELECT pg_try_advisory_lock(:k)"), {"k": ADVISORY_KEY}).scalar():
                raise DoctorBusy("Another scan or fix is running (on this or another instance).")
            try:
                yield
            finally:
                connection.execute(text("SELECT pg_advisory_unlock(:k)"), {"k": ADVISORY_KEY})
        return
    with _file_lock(_lock_path(engine)):
        yield


def _lock_path(engine: Engine) -> Path:
    database = engine.url.database or ""
    if not database or database == ":memory:":
        return Path(tempfile.gettempdir()) / "homeroom-doctor.lock"
    return Path(f"{database}.doctor.lock")


@contextmanager
def _file_lock(path: Path) -> Iterator[None]:
    stream: IO[str] = path.open("a")
    try:
        if not _try_lock(stream):
            raise DoctorBusy("Another scan or fix is running (on this or another process).")
        try:
            yield
        finally:
            _unlock(stream)
    finally:
        stream.close()


def _try_lock(stream: IO[str]) -> bool:
    if sys.platform == "win32":
        try:
            msvcrt.locking(stream.fileno(), msvcrt.LK_NBLCK, 1)
        except OSError:
            return False
        return True
    try:
        fcntl.flock(stream.fileno(), fcntl.LOCK_EX | fcntl.LOCK_NB)
    except BlockingIOError:
        return False
    return True


def _unlock(stream: IO[str]) -> None:
    if sys.platform == "win32":
        msvcrt.locking(stream.fileno(), msvcrt.LK_UNLCK, 1)
    else:
        fcntl.flock(stream.fileno(), fcntl.LOCK_UN)
