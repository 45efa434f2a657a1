"""Dumping and restoring each kind of database: PostgreSQL with its own client tools, SQLite with
its online backup API. What both share: row counts per table and the migration revision.

PostgreSQL's password never reaches a command line or a log: the tools get a connection URI
without it, and the password in a temporary passfile (mode 600) named by PGPASSFILE.
"""

from __future__ import annotations

import contextlib
import gzip
import io
import os
import re
import shutil
import sqlite3
import subprocess
import tempfile
import threading
from collections import deque
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import IO, BinaryIO

from sqlalchemy import Connection, NullPool, create_engine, func, inspect, select, table, text
from sqlalchemy.engine import URL, Engine
from sqlalchemy.exc import SQLAlchemyError

from backend.backups.files import CHUNK, Advance, BackupError, DatabaseKind, Stage
from backend.core.db import database_revisions

TOOL_TIMEOUT_SECONDS = 6 * 3600
# pg_dump waits this long for a table lock (a migration holding one), then fails rather than hang.
LOCK_WAIT_TIMEOUT = "120s"


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


# --- PostgreSQL ---------------------------------------------------------------------------------

_VERSION = re.compile(r"\(PostgreSQL\) (\d+)")


def _tool_major(path: str) -> int | None:
    try:
        out = subprocess.run(  # noqa: S603 - a client tool found by path, fixed arguments
            [path, "--version"],
            capture_output=True,
            text=True,
            timeout=30,
            check=False,
            env=tool_environment(),
        )
    except OSError:
        return None
    match = _VERSION.search(out.stdout)
    return int(match.group(1)) if match else None


@dataclass(frozen=True)
class PgTools:
    """pg_dump, pg_restore and psql from one folder, at least as new as the server."""

    folder: Path
    major: int

    def __call__(self, name: str) -> str:
        return str(self.folder / name)


def pg_tools(server_major: int, configured: Path | None) -> PgTools:
    """The client tools matching the server: BACKUP_PG_BIN_DIR if set, else the version's own
    folder (Debian's /usr/lib/postgresql/N/bin, RHEL's /usr/pgsql-N/bin), else the PATH's."""
    if configured is not None:
        candidates = [configured]
    else:
        on_path = shutil.which("pg_dump")
        candidates = [Path(f"/usr/lib/postgresql/{server_major}/bin"), Path(f"/usr/pgsql-{server_major}/bin")]
        candidates += [Path(on_path).parent] if on_path else []
    seen: list[str] = []
    for folder in candidates:
        if not (folder / "pg_dump").exists():
            continue
        major = _tool_major(str(folder / "pg_dump"))
        if major is not None and major >= server_major:
            return PgTools(folder, major)
        seen.append(
            f"{folder / 'pg_dump'} is version {major}"
            if major is not None
            else f"{folder / 'pg_dump'} did not say its version"
        )
    if not seen:
        where = f"in BACKUP_PG_BIN_DIR ({configured})" if configured else "on this machine"
        raise BackupError(
            f"pg_dump was not found {where}. Install the PostgreSQL {server_major} client "
            f"(Debian: apt-get install postgresql-client-{server_major}) or set BACKUP_PG_BIN_DIR."
        )
    raise BackupError(
        f"The server runs PostgreSQL {server_major} but {'; '.join(seen)}: a client at least as new as "
        f"the server is needed. Install postgresql-client-{server_major} or point BACKUP_PG_BIN_DIR at it."
    )


_TOOL_VARIABLES = frozenset({"PATH", "HOME", "LANG", "LC_ALL", "LC_CTYPE", "LC_MESSAGES", "TZ", "TMPDIR"})


def _passed_to_tools(name: str) -> bool:
    """The client tools get the locale, PATH and libpq's own settings (PGSSLMODE, ...), nothing
    else of the app's environment (which holds DATABASE_URL and other secrets)."""
    if name in ("PGPASSWORD", "PGPASSFILE"):
        return False
    return name in _TOOL_VARIABLES or name.startswith("PG")


def tool_environment() -> dict[str, str]:
    return {key: value for key, value in os.environ.items() if _passed_to_tools(key)}


@contextlib.contextmanager
def pg_environment(url: URL) -> Iterator[tuple[str, dict[str, str]]]:
    """A libpq URI without the password, and the environment that carries it (a passfile)."""
    # (URL.set ignores None: build the URL without a password rather than "unset" it.)
    without_password = URL.create(
        "postgresql", url.username, None, url.host, url.port, url.database, url.query
    )
    uri = without_password.render_as_string(hide_password=False)
    env = tool_environment()
    env["PGAPPNAME"] = "homeroom-backup"
    if not url.password:
        yield uri, env
        return
    secret = url.password.replace("\\", "\\\\").replace(":", "\\:")
    descriptor, name = tempfile.mkstemp(prefix="homeroom-pgpass-")  # mode 600
    try:
        with os.fdopen(descriptor, "w", encoding="utf-8") as passfile:
            passfile.write(f"*:*:*:*:{secret}\n")
        env["PGPASSFILE"] = name
        yield uri, env
    finally:
        Path(name).unlink()


def _drain_progress(stream: IO[str], pattern: re.Pattern[str], advance: Advance, tail: deque[str]) -> None:
    for line in stream:
        if pattern.search(line):
            advance(1)
        else:
            tail.append(line.rstrip())


def _failure(tool: str, returncode: int, tail: deque[str], url: URL) -> BackupError:
    errors = [line for line in tail if "error" in line.lower() or "fatal" in line.lower()] or list(tail)
    detail = scrub(" | ".join(errors[-3:]), url) or "no message"
    return BackupError(f"{tool} failed (exit {returncode}): {detail}")


def server_major(connection: Connection) -> tuple[int, str]:
    number = int(connection.execute(text("SHOW server_version_num")).scalar_one())
    return number // 10000, str(connection.execute(text("SHOW server_version")).scalar_one())


def dump_postgres(url: URL, out: BinaryIO, bin_dir: Path | None, stage: Stage) -> Snapshot:
    """pg_dump (custom format, compressed) of the snapshot in which the row counts were taken.

    A repeatable-read transaction exports its snapshot and counts every table in it; pg_dump
    dumps that same snapshot (`--snapshot`), so the counts describe the dump exactly however
    much the app writes meanwhile."""
    engine = connect_to(url)
    try:
        with engine.connect() as connection:
            connection = connection.execution_options(isolation_level="REPEATABLE READ")
            with connection.begin():
                snapshot_id = str(connection.execute(text("SELECT pg_export_snapshot()")).scalar_one())
                major, version = server_major(connection)
                tools = pg_tools(major, bin_dir)
                counts = table_counts(connection)
                revisions = sorted(database_revisions(connection))
                _run_pg_dump(tools, url, snapshot_id, out, stage, len(counts))
    except SQLAlchemyError as error:
        raise BackupError(scrub(f"Cannot read the database: {error.__cause__ or error}", url)) from None
    finally:
        engine.dispose()
    return Snapshot(counts, revisions, f"PostgreSQL {version}")


_DUMPING = re.compile(r"dumping contents of table")
_RESTORING = re.compile(r"processing data for table")


def _run_pg_dump(
    tools: PgTools, url: URL, snapshot_id: str, out: BinaryIO, stage: Stage, tables: int
) -> None:
    with pg_environment(url) as (uri, env), stage("Dumping tables", tables) as advance:
        command = [
            tools("pg_dump"),
            "--format=custom",
            "--compress=6",
            "--verbose",
            f"--snapshot={snapshot_id}",
            f"--lock-wait-timeout={LOCK_WAIT_TIMEOUT}",
            f"--dbname={uri}",
        ]
        process = subprocess.Popen(  # noqa: S603 - fixed arguments, no shell
            command, stdout=out, stderr=subprocess.PIPE, text=True, env=env
        )
        tail: deque[str] = deque(maxlen=20)
        assert process.stderr is not None
        _drain_progress(process.stderr, _DUMPING, advance, tail)
        returncode = process.wait(timeout=TOOL_TIMEOUT_SECONDS)
    if returncode != 0:
        raise _failure("pg_dump", returncode, tail, url)


def restore_postgres(
    dump: Path, url: URL, bin_dir: Path | None, stage: Stage, tables: int, replace: bool
) -> None:
    """pg_restore's SQL through psql in one transaction: the target holds the backup afterwards,
    or, on any error, exactly what it held before. With `replace`, the transaction first drops
    the public schema (every table, view, sequence and function in it)."""
    engine = connect_to(url)
    try:
        with engine.connect() as connection:
            major, _version = server_major(connection)
    except SQLAlchemyError as error:
        raise BackupError(
            scrub(f"Cannot reach the target database: {error.__cause__ or error}", url)
        ) from None
    finally:
        engine.dispose()
    tools = pg_tools(major, bin_dir)
    with pg_environment(url) as (uri, env), stage("Restoring tables", tables) as advance:
        # An app still using the target holds locks: give up after a minute rather than wait forever.
        env["PGOPTIONS"] = f"{env.get('PGOPTIONS', '')} -c lock_timeout=60s".strip()
        restore = subprocess.Popen(  # noqa: S603 - fixed arguments, no shell
            [tools("pg_restore"), "--no-owner", "--no-privileges", "--verbose", "--file=-", str(dump)],
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            env=env,
        )
        psql = subprocess.Popen(  # noqa: S603 - fixed arguments, no shell
            [
                tools("psql"),
                "-X",
                "-q",
                "-v",
                "ON_ERROR_STOP=1",
                "--single-transaction",
                "-f",
                "-",
                f"--dbname={uri}",
            ],
            stdin=subprocess.PIPE,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.PIPE,
            env=env,
        )
        assert restore.stdout and restore.stderr and psql.stdin and psql.stderr
        restore_tail: deque[str] = deque(maxlen=20)
        psql_errors: list[bytes] = []
        readers = [
            threading.Thread(
                target=_drain_progress,
                args=(_text(restore.stderr), _RESTORING, advance, restore_tail),
                daemon=True,
            ),
            threading.Thread(target=_read_all, args=(psql.stderr, psql_errors), daemon=True),
        ]
        for reader in readers:
            reader.start()
        try:
            if replace:
                psql.stdin.write(b"DROP SCHEMA IF EXISTS public CASCADE;\nCREATE SCHEMA public;\n")
            while chunk := restore.stdout.read(CHUNK):
                psql.stdin.write(chunk)
            psql.stdin.close()
        except BrokenPipeError:
            pass  # psql stopped at an error: its message says which
        restore_code = restore.wait(timeout=TOOL_TIMEOUT_SECONDS)
        psql_code = psql.wait(timeout=TOOL_TIMEOUT_SECONDS)
        for reader in readers:
            reader.join(timeout=30)
    if restore_code != 0:
        raise _failure("pg_restore", restore_code, restore_tail, url)
    if psql_code != 0:
        message = b"".join(psql_errors).decode("utf-8", "replace").splitlines()
        raise _failure("psql (the restore was rolled back)", psql_code, deque(message[-20:]), url)


def _text(stream: IO[bytes]) -> IO[str]:
    return io.TextIOWrapper(stream, encoding="utf-8", errors="replace")


def _read_all(stream: IO[bytes], into: list[bytes]) -> None:
    into.append(stream.read())


# --- SQLite -------------------------------------------------------------------------------------


def sqlite_path(url: URL) -> Path:
    database = url.database or ""
    if not database or database == ":memory:" or database.startswith("file:"):
        raise BackupError("Backups need a SQLite database file (not :memory: or a file: URI).")
    return Path(database)


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


def unpack_sqlite(packed: Path, into: Path, stage: Stage) -> None:
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


def restore_sqlite(unpacked: Path, url: URL) -> None:
    """Copy the unpacked backup over the target through the backup API: other connections see the
    old database or the new one, never a mix."""
    target_path = sqlite_path(url)
    target_path.parent.mkdir(parents=True, exist_ok=True)
    source = sqlite3.connect(unpacked)
    target = sqlite3.connect(target_path, timeout=30)
    try:
        source.backup(target)
    except sqlite3.Error as error:
        raise BackupError(f"Restoring into {target_path} failed: {error}") from None
    finally:
        target.close()
        source.close()
