"""The PostgreSQL side of backups: pg_dump of the snapshot the row counts were read in, and
pg_restore's SQL through psql in one transaction, with client tools at least as new as the server.

PostgreSQL's password never reaches a command line or a log: the tools get a connection URI
without it, and the password in a temporary passfile (mode 600) named by PGPASSFILE.
"""

from __future__ import annotations

import contextlib
import io
import os
import re
import shutil
import subprocess
import tempfile
import threading
from collections import deque
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import IO, BinaryIO

from sqlalchemy import Connection, text
from sqlalchemy.engine import URL
from sqlalchemy.exc import SQLAlchemyError

from backend.backups.databases import Snapshot, connect_to, scrub, table_counts
from backend.backups.files import CHUNK, Advance, BackupError, Stage
from backend.core.db import app_role_sql, database_revisions

TOOL_TIMEOUT_SECONDS = 6 * 3600
# pg_dump waits this long for a table lock (a migration holding one), then fails rather than hang.
LOCK_WAIT_TIMEOUT = "120s"

_VERSION = re.compile(r"\(PostgreSQL\) (\d+)")
_DUMPING = re.compile(r"dumping contents of table")
_RESTORING = re.compile(r"processing data for table")


# --- the client tools and their environment -------------------------------------------------------


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


# --- dump -----------------------------------------------------------------------------------------


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


# --- restore --------------------------------------------------------------------------------------


def restore_postgres(
    dump: Path, url: URL, bin_dir: Path | None, stage: Stage, tables: int, replace: bool, app_role: str
) -> None:
    """pg_restore's SQL through psql in one transaction: the target holds the backup afterwards,
    or, on any error, exactly what it held before. With `replace`, the transaction first drops
    the public schema (every table, view, sequence and function in it). The dump's grants are not
    restored (`--no-privileges`: the target's roles may differ); the same transaction grants the
    data to the app's role (`app_role`) again, as the migrations do."""
    tools = pg_tools(_target_major(url), bin_dir)
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
        restore_tail: deque[str] = deque(maxlen=20)
        psql_errors: list[bytes] = []
        readers = _start_readers(restore, psql, advance, restore_tail, psql_errors)
        _pipe(restore, psql, replace, _statements(app_role_sql(app_role)))
        restore_code = restore.wait(timeout=TOOL_TIMEOUT_SECONDS)
        psql_code = psql.wait(timeout=TOOL_TIMEOUT_SECONDS)
        for reader in readers:
            reader.join(timeout=30)
    if restore_code != 0:
        raise _failure("pg_restore", restore_code, restore_tail, url)
    if psql_code != 0:
        message = b"".join(psql_errors).decode("utf-8", "replace").splitlines()
        raise _failure("psql (the restore was rolled back)", psql_code, deque(message[-20:]), url)


def _target_major(url: URL) -> int:
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
    return major


def _start_readers(
    restore: subprocess.Popen[bytes],
    psql: subprocess.Popen[bytes],
    advance: Advance,
    restore_tail: deque[str],
    psql_errors: list[bytes],
) -> list[threading.Thread]:
    """Threads reading both tools' stderr (pg_restore's for progress), so neither blocks on it."""
    assert restore.stderr and psql.stderr
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
    return readers


def _statements(statements: list[str]) -> bytes:
    return "".join(f"{statement};\n" for statement in statements).encode()


def _pipe(
    restore: subprocess.Popen[bytes], psql: subprocess.Popen[bytes], replace: bool, after: bytes
) -> None:
    """pg_restore's output into psql (after dropping the public schema, with `replace`), then `after`."""
    assert restore.stdout and psql.stdin
    try:
        if replace:
            psql.stdin.write(b"DROP SCHEMA IF EXISTS public CASCADE;\nCREATE SCHEMA public;\n")
        while chunk := restore.stdout.read(CHUNK):
            psql.stdin.write(chunk)
        psql.stdin.write(after)
        psql.stdin.close()
    except BrokenPipeError:
        pass  # psql stopped at an error: its message says which


def _text(stream: IO[bytes]) -> IO[str]:
    return io.TextIOWrapper(stream, encoding="utf-8", errors="replace")


def _read_all(stream: IO[bytes], into: list[bytes]) -> None:
    into.append(stream.read())
