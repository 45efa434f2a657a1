"""Backups as operators run them: while the app writes, as scripts and subprocesses, on a
terminal, with the wrong client tools, and with a password that must never show."""

from __future__ import annotations

import os
import pty
import re
import secrets
import select
import shutil
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
from sqlalchemy import create_engine, text
from sqlalchemy import select as sql_select
from sqlalchemy.engine import make_url

from backend.backups.databases import counts_at
from backend.backups.files import local_backups
from backend.backups.models import BackupRun
from backend.config import PROJECT_ROOT, normalise_database_url
from backend.core.db import dispose_pools
from backend.core.extensions import db
from tests.backups.conftest import (
    Source,
    add_audit_events,
    backup_app,
    cli,
    command_environment,
    migrate,
    new_database,
    small_sqlite,
)
from tests.conftest import RUN_ENCRYPTION_KEY, RUN_JWT_KEY, make_school, postgres_only

FLASK = str(Path(sys.executable).with_name("flask"))


def test_a_backup_taken_while_the_app_writes_is_consistent(source: Source, target: str) -> None:
    """Writers append to the audit chains throughout the backup; the backup's row counts are its
    snapshot's, the drill restores them exactly, and the chains in it verify."""
    stop = threading.Event()
    written = [0]
    errors: list[BaseException] = []

    def write() -> None:
        deadline = time.monotonic() + 60
        try:
            while not stop.is_set() and written[0] < 5000 and time.monotonic() < deadline:
                add_audit_events(source.app, 1)
                written[0] += 1
        except BaseException as error:  # noqa: BLE001 - reported by the test below
            errors.append(error)

    writers = [threading.Thread(target=write) for _ in range(2)]
    for writer in writers:
        writer.start()
    try:
        while written[0] < 20 and not errors:
            time.sleep(0.01)
        before = written[0]
        result = source.run("create")
        during = written[0] - before
    finally:
        stop.set()
        for writer in writers:
            writer.join(timeout=30)
    assert not errors, errors
    assert result.exit_code == 0, result.output
    assert during > 0  # the app really was writing while the backup ran

    backup = local_backups(source.backup_dir)[-1]
    manifest = backup.manifest()
    assert manifest.row_counts["audit_events"] < source.counts()["audit_events"]  # writes went on after
    verified = source.run("verify")
    assert verified.exit_code == 0, verified.output
    assert source.run("restore", backup.name, "--target-url", target).exit_code == 0
    assert counts_at(normalise_database_url(target)) == manifest.row_counts


def test_progress_shows_on_a_terminal(tmp_path: Path) -> None:
    database = f"sqlite:///{tmp_path / 'app.sqlite3'}"
    migrate(database)
    environment = command_environment(database, tmp_path / "backups")
    controller, terminal = pty.openpty()
    process = subprocess.Popen(
        [FLASK, "--app", "wsgi", "backup", "create"],
        cwd=PROJECT_ROOT,
        env=environment,
        stdout=subprocess.DEVNULL,
        stderr=terminal,
    )
    os.close(terminal)
    shown = b""
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        ready, _, _ = select.select([controller], [], [], 1)
        if not ready:
            if process.poll() is not None:
                break
            continue
        try:
            chunk = os.read(controller, 65536)
        except OSError:  # the terminal closed: the command has finished
            break
        if not chunk:
            break
        shown += chunk
    os.close(controller)
    assert process.wait(timeout=30) == 0
    screen = shown.decode("utf-8", "replace")
    for label in ("Copying the database", "Compressing", "Checksumming"):
        assert label in screen
    assert "100%" in screen


def _wrapped_tools(folder: Path, trace: Path) -> Path:
    """pg_dump, pg_restore and psql that write what they were given (arguments, environment, the
    passfile's mode) to `trace`, then run the real tool."""
    real = Path(shutil.which("pg_dump") or "pg_dump").parent
    folder.mkdir()
    for tool in ("pg_dump", "pg_restore", "psql"):
        script = folder / tool
        script.write_text(
            "#!/bin/sh\n"
            f'{{ echo "argv: $0 $*"; env | sed "s/^/env: /"; '
            f'[ -n "$PGPASSFILE" ] && stat -c "passfile: %n %a" "$PGPASSFILE"; }} >> "{trace}"\n'
            f'exec "{real}/{tool}" "$@"\n'
        )
        script.chmod(0o755)
    return folder


@pytest.fixture
def pg_source(tmp_path: Path) -> Iterator[str]:
    with new_database("postgresql", tmp_path) as url:
        migrate(url)
        app = backup_app(url, tmp_path / "unused")
        make_school(app)
        add_audit_events(app, 3)
        dispose_pools(app)
        yield url


@postgres_only
def test_the_database_password_never_shows(pg_source: str, tmp_path: Path) -> None:
    password = f"pw-{secrets.token_hex(12)}"  # the server trusts 127.0.0.1, so any password works
    with_password = make_url(pg_source).set(password=password).render_as_string(hide_password=False)
    trace = tmp_path / "trace.txt"
    environment = {
        **{k: v for k, v in os.environ.items() if not k.startswith(("PG", "TEST_"))},
        "HOMEROOM_ENV_FILE": "",
        "APP_ENV": "testing",
        "DATABASE_URL": with_password,
        "BACKUP_DIR": str(tmp_path / "backups"),
        "BACKUP_PG_BIN_DIR": str(_wrapped_tools(tmp_path / "bin", trace)),
        "ENCRYPTION_KEYS": RUN_ENCRYPTION_KEY,
        "JWT_SECRET_KEY": RUN_JWT_KEY,
        "LOG_FORMAT": "json",
    }

    def flask(*args: str, **extra: str) -> subprocess.CompletedProcess[str]:
        return subprocess.run(
            [FLASK, "--app", "wsgi", "backup", *args],
            cwd=PROJECT_ROOT,
            env={**environment, **extra},
            capture_output=True,
            text=True,
            timeout=300,
        )

    with new_database("postgresql", tmp_path) as restore_target:
        target_with_password = make_url(restore_target).set(password=password)
        outputs = [
            flask("create"),
            flask("verify"),
            flask("list"),
            flask("restore", "--target-url", target_with_password.render_as_string(hide_password=False), "x"),
        ]
        assert outputs[0].returncode == 0, outputs[0].stdout[-3000:] + outputs[0].stderr[-3000:]
        backup = local_backups(tmp_path / "backups")[-1]
        outputs.append(
            flask(
                "restore",
                backup.name,
                "--target-url",
                target_with_password.render_as_string(hide_password=False),
            )
        )
        unreachable = make_url(with_password).set(port=9).render_as_string(hide_password=False)
        outputs.append(flask("create", DATABASE_URL=unreachable))

    assert [o.returncode for o in outputs] == [0, 0, 0, 1, 0, 1], [o.stderr[-500:] for o in outputs]
    for output in outputs:
        assert password not in output.stdout + output.stderr
    assert "Cannot read the database" in outputs[-1].stderr  # the failure is explained...
    traced = trace.read_text()
    assert traced.count("argv: ") >= 4 and "pg_dump" in traced and "psql" in traced
    assert password not in traced, [line for line in traced.splitlines() if password in line]
    assert "env: PGPASSWORD" not in traced
    passfiles = set(re.findall(r"passfile: (\S+) (\d+)", traced))
    assert passfiles and {mode for _path, mode in passfiles} == {"600"}
    assert not any(Path(path).exists() for path, _mode in passfiles)  # removed after each run
    for path in (tmp_path / "backups").iterdir():
        assert password.encode() not in path.read_bytes()
    engine = create_engine(normalise_database_url(pg_source))
    with engine.connect() as connection:
        rows = connection.execute(sql_select(BackupRun.__table__)).all()
    engine.dispose()
    assert len(rows) >= 3 and password not in repr(rows)


@postgres_only
def test_a_client_older_than_the_server_is_refused_by_name(pg_source: str, tmp_path: Path) -> None:
    old = tmp_path / "old-bin"
    old.mkdir()
    for tool in ("pg_dump", "pg_restore", "psql"):
        (old / tool).write_text(f'#!/bin/sh\necho "{tool} (PostgreSQL) 9.6.24"\n')
        (old / tool).chmod(0o755)
    for folder, message in (
        (old, r"The server runs PostgreSQL \d+ but \S+/pg_dump is version 9"),
        (tmp_path / "nowhere", "pg_dump was not found in BACKUP_PG_BIN_DIR"),
    ):
        app = backup_app(pg_source, tmp_path / "backups", BACKUP_PG_BIN_DIR=str(folder))
        try:
            result = cli(app, "backup", "create")
            assert result.exit_code == 1
            assert re.search(message, result.output), result.output
            with app.app_context():
                failed = db.session.scalars(sql_select(BackupRun).where(BackupRun.status == "failed")).all()
                assert failed and re.search(message, failed[-1].error or "")
        finally:
            dispose_pools(app)
    assert not any(p for p in (tmp_path / "backups").iterdir() if not p.name.startswith("."))


def test_the_operator_scripts_back_up_and_restore(tmp_path: Path) -> None:
    database, app = small_sqlite(tmp_path)
    dispose_pools(app)
    environment = command_environment(database, tmp_path / "backups")

    def script(name: str, *args: str) -> subprocess.CompletedProcess[str]:
        return subprocess.run(
            [str(PROJECT_ROOT / "scripts" / name), *args],
            env=environment,
            capture_output=True,
            text=True,
            timeout=300,
        )

    created = script("backup_database.sh")
    assert created.returncode == 0, created.stderr
    assert "Backup written:" in created.stdout
    drill = script("backup_database.sh", "--verify")
    assert drill.returncode == 0 and "Verified " in drill.stdout
    backup = local_backups(tmp_path / "backups")[-1]
    restored_db = tmp_path / "restored.sqlite3"
    restored = script("restore_database.sh", backup.name, "--target-url", f"sqlite:///{restored_db}")
    assert restored.returncode == 0, restored.stderr
    assert counts_at(make_url(f"sqlite:///{restored_db}")) == backup.manifest().row_counts
    refused = script("restore_database.sh", backup.name)  # over the live database, without --force
    assert refused.returncode == 1 and "is not empty" in refused.stderr
    assert script("restore_database.sh").returncode == 2  # no file: the usage


def test_sqlite_backups_never_copy_a_live_wal_file(tmp_path: Path) -> None:
    """Rows still only in the write-ahead log (not yet checkpointed into the main file) are in the
    backup: it is made through SQLite's backup API, not by copying the database file."""
    database = tmp_path / "app.sqlite3"
    url = f"sqlite:///{database}"
    migrate(url)
    app = backup_app(url, tmp_path / "backups")
    try:
        make_school(app)
        engine = create_engine(url)
        with engine.connect() as holder:  # an open reader stops checkpoints: writes stay in the WAL
            holder.execute(text("BEGIN"))
            holder.execute(text("SELECT count(*) FROM schools")).scalar_one()
            add_audit_events(app, 4)
            assert (tmp_path / "app.sqlite3-wal").stat().st_size > 0
            assert cli(app, "backup", "create").exit_code == 0
            holder.execute(text("COMMIT"))
        engine.dispose()
        manifest = local_backups(tmp_path / "backups")[-1].manifest()
        assert manifest.row_counts["audit_events"] >= 4 and manifest.row_counts["schools"] == 1
    finally:
        dispose_pools(app)


def test_a_backup_from_an_older_release_is_migrated_to_head_by_the_drill(tmp_path: Path) -> None:
    from flask_migrate import downgrade

    _url, app = small_sqlite(tmp_path, "old.sqlite3")
    try:
        with app.app_context():  # the database as the previous release left it: no backup log yet
            downgrade(revision="0007_audit_wipes")
        created = cli(app, "backup", "create")
        assert created.exit_code == 0, created.output
        assert "backup_run_not_recorded" in created.output  # logged, not fatal: the dump is what matters
        backup = local_backups(tmp_path / "backups")[-1]
        assert backup.manifest().revisions == ["0007_audit_wipes"]

        drill = cli(app, "backup", "verify")
        assert drill.exit_code == 0, drill.output
        assert "migrations upgraded to head" in drill.output
        restored = cli(
            app, "backup", "restore", backup.name, "--target-url", f"sqlite:///{tmp_path / 'new.sqlite3'}"
        )
        assert restored.exit_code == 0, restored.output
        assert "The backup predates this code's migrations: run `flask db upgrade` next." in restored.output
    finally:
        dispose_pools(app)
