"""create -> list -> verify -> restore on SQLite and PostgreSQL; corrupted files refused; the log."""

from __future__ import annotations

import gzip
import json
import re
import shutil
import subprocess
from pathlib import Path
from typing import Any

from sqlalchemy import select

from backend.audit.service import chain_ids, verify_chain
from backend.backups.files import NAME, LocalBackup, local_backups
from backend.config import normalise_database_url
from backend.core.db import dispose_pools
from backend.core.extensions import db
from backend.health_records.models import HealthRecord
from tests.backups.conftest import ALLERGEN, HEALTH_RECORD, Source, backup_app, cli
from tests.conftest import TEST_DATABASE_URL


def created(source: Source) -> LocalBackup:
    result = source.run("create")
    assert result.exit_code == 0, result.output
    return local_backups(source.backup_dir)[-1]


def log_lines(output: str) -> list[dict[str, Any]]:
    return [json.loads(line) for line in output.splitlines() if line.startswith("{")]


def plain_content(backup: LocalBackup) -> bytes:
    """What the backup holds, uncompressed (PostgreSQL's archive read back as SQL)."""
    if backup.info.engine == "sqlite":
        return gzip.decompress(backup.path.read_bytes())
    return subprocess.run(
        ["pg_restore", "--file=-", str(backup.path)], capture_output=True, check=True, timeout=60
    ).stdout


def test_create_writes_the_dump_its_manifest_and_checksum(source: Source) -> None:
    before = source.counts()
    result = source.run("create")
    assert result.exit_code == 0, result.output

    files = sorted(path.name for path in source.backup_dir.iterdir())
    [backup] = local_backups(source.backup_dir)
    assert files == sorted(path.name for path in backup.files())  # no temporary file left behind
    match = NAME.match(backup.name)
    assert match is not None
    database = normalise_database_url(source.url).database or ""
    assert match["database"] == (Path(database).stem if source.engine == "sqlite" else database)
    assert backup.path.suffix == (".gz" if source.engine == "sqlite" else ".pgdump")
    for path in backup.files():
        assert path.stat().st_mode & 0o777 == 0o600, path
    assert source.backup_dir.stat().st_mode & 0o777 == 0o700
    check = subprocess.run(["sha256sum", "-c", backup.checksum_path.name], cwd=source.backup_dir, check=False)
    assert check.returncode == 0

    manifest = backup.manifest()
    assert manifest.row_counts == before  # taken in the dump's own snapshot
    assert manifest.row_counts["students"] == 60 and manifest.row_counts["health_records"] == 21
    assert manifest.engine == source.engine and manifest.bytes == backup.path.stat().st_size

    [run] = source.runs(kind="create", file=backup.name)
    assert (run.status, run.bytes, run.checksum, run.error) == ("ok", manifest.bytes, manifest.sha256, None)
    assert run.details is not None and run.details["row_counts"] == before
    assert run.finished_at >= run.started_at and run.duration_ms >= 0
    logged = [line for line in log_lines(result.output) if line["event"] == "backup_run"]
    assert {(line["kind"], line["status"]) for line in logged} == {("create", "ok"), ("prune", "ok")}
    assert f"Backup written: {backup.path}" in result.output


def test_health_data_stays_encrypted_inside_a_backup(source: Source) -> None:
    content = plain_content(created(source))
    assert b"health_records" in content  # the table is there...
    for value in (ALLERGEN, HEALTH_RECORD["notes"], "Hives"):
        assert str(value).encode() not in content  # ...but its values only as Fernet tokens


def test_list_shows_files_and_their_runs(source: Source) -> None:
    first = created(source)
    assert source.run("verify").exit_code == 0
    (source.backup_dir / "notes.txt").write_text("not a backup")
    first.checksum_path.rename(first.checksum_path.with_suffix(".moved"))  # now unfinished
    second = created(source)

    result = source.run("list")
    assert result.exit_code == 0, result.output
    lines = {
        line.split()[0]: line
        for line in result.output.splitlines()
        if NAME.match(line.split()[0] if line.split() else "")
    }
    assert set(lines) == {first.name, second.name}
    assert (
        "UNFINISHED" in lines[first.name]
        and "create ok" in lines[first.name]
        and "verify ok" in lines[first.name]
    )
    assert "finished" in lines[second.name] and "create ok" in lines[second.name]
    assert "Latest runs:" in result.output and "notes.txt" not in result.output


def test_verify_restores_into_a_scratch_database_and_drops_it(source: Source) -> None:
    backup = created(source)
    result = source.run("verify")
    assert result.exit_code == 0, result.output
    manifest = backup.manifest()
    rows = sum(manifest.row_counts.values())
    assert (
        f"Verified {backup.name}: restored {rows} rows in {len(manifest.row_counts)} tables" in result.output
    )
    assert "migrations at head" in result.output
    [run] = source.runs(kind="verify", file=backup.name)
    assert run.status == "ok" and run.file == backup.name and run.checksum == manifest.sha256
    assert run.details is not None and run.details["audit_chains"] >= 2 and run.details["audit_events"] >= 6
    # Nothing of the scratch copy is left: no database on the server, no file in the folder.
    assert sorted(p.name for p in source.backup_dir.iterdir()) == sorted(p.name for p in backup.files())
    if source.engine == "postgresql":
        assert _verify_databases() == []


def _verify_databases() -> list[str]:
    from sqlalchemy import create_engine, text

    engine = create_engine(normalise_database_url(TEST_DATABASE_URL))
    with engine.connect() as connection:
        names = connection.execute(
            text("SELECT datname FROM pg_database WHERE datname LIKE 'homeroom_verify%'")
        )
        found = list(names.scalars())
    engine.dispose()
    return found


def test_restore_into_a_new_database_gives_the_same_rows_and_a_green_audit_chain(
    source: Source, target: str
) -> None:
    backup = created(source)
    manifest = backup.manifest()
    result = source.run("restore", backup.name, "--target-url", target)
    assert result.exit_code == 0, result.output
    assert "counts match the backup" in result.output

    restored = backup_app(target, source.backup_dir)
    try:
        assert cli(restored, "audit", "verify").exit_code == 0
        with restored.app_context():
            assert {"ok"} == {"ok" if verify_chain(chain)[1] is None else "broken" for chain in chain_ids()}
            # Health data comes back readable with the same ENCRYPTION_KEYS.
            records = db.session.scalars(select(HealthRecord)).all()
            assert ALLERGEN in {record.allergies[0]["allergen"] for record in records if record.allergies}
        from backend.backups.databases import counts_at

        assert counts_at(normalise_database_url(target)) == manifest.row_counts
    finally:
        dispose_pools(restored)
    [run] = source.runs(kind="restore", file=backup.name)
    assert run.status == "ok" and run.details is not None and run.details["replaced"] == {}
    assert (
        "@" not in run.details["target"]
        or ":***@" in run.details["target"]
        or "postgres@" in run.details["target"]
    )


def test_restore_refuses_a_non_empty_database_unless_forced(source: Source, target: str) -> None:
    backup = created(source)
    assert source.run("restore", backup.name, "--target-url", target).exit_code == 0
    # The target now holds data: a second restore is refused, and changes nothing.
    restored = backup_app(target, source.backup_dir)
    try:
        with restored.app_context():
            db.session.execute(HealthRecord.__table__.delete())
            db.session.commit()
    finally:
        dispose_pools(restored)

    refused = source.run("restore", backup.name, "--target-url", target)
    assert refused.exit_code == 1
    assert "is not empty" in refused.output and "Nothing was changed" in refused.output
    assert "health_records 0" in refused.output and "students 60" in refused.output
    from backend.backups.databases import counts_at

    assert counts_at(normalise_database_url(target))["health_records"] == 0

    forced = source.run("restore", backup.name, "--target-url", target, "--force")
    assert forced.exit_code == 0, forced.output
    assert re.search(r"Replacing everything in \S+: \d+ tables, \d+ rows: .*health_records 0", forced.output)
    assert counts_at(normalise_database_url(target)) == backup.manifest().row_counts
    [refusal, replaced] = source.runs(kind="restore", file=backup.name)[-2:]
    assert refusal.status == "failed" and "not empty" in (refusal.error or "")
    assert replaced.status == "ok" and replaced.details is not None
    assert replaced.details["replaced"]["health_records"] == 0


def test_a_corrupted_backup_is_refused_by_restore_and_verify(source: Source, target: str) -> None:
    backup = created(source)
    data = bytearray(backup.path.read_bytes())
    data[len(data) // 2] ^= 0x01  # one flipped bit in the middle
    backup.path.write_bytes(bytes(data))

    for args in (("verify",), ("restore", backup.name, "--target-url", target)):
        result = source.run(*args)
        assert result.exit_code == 1, result.output
        assert f"{backup.name} is corrupted: its SHA-256 is" in result.output
        assert "use another backup" in result.output
    failures = source.runs(kind="verify", file=backup.name) + source.runs(kind="restore", file=backup.name)
    assert [run.status for run in failures] == [
        "failed",
        "failed",
    ]
    from backend.backups.databases import counts_at

    if source.engine == "postgresql":
        assert counts_at(normalise_database_url(target)) == {}  # untouched
    else:
        assert not Path(normalise_database_url(target).database or "").exists()


def test_a_backup_without_its_checksum_is_not_trusted(source: Source, target: str) -> None:
    backup = created(source)
    backup.checksum_path.unlink()
    result = source.run("restore", str(backup.path), "--target-url", target)
    assert result.exit_code == 1
    assert "has no checksum file" in result.output and "cannot be trusted" in result.output
    assert "no finished backup" in source.run("verify").output


def test_wrong_kind_of_target_is_refused(source: Source, tmp_path: Path) -> None:
    backup = created(source)
    other = (
        f"sqlite:///{tmp_path / 'other.sqlite3'}"
        if source.engine == "postgresql"
        else "postgresql://postgres@127.0.0.1:9/nowhere"
    )
    result = source.run("restore", backup.name, "--target-url", other)
    assert result.exit_code == 1
    assert f"is a {source.engine} backup; it restores into {source.engine}" in result.output


def test_a_missing_file_and_a_stranger_file_are_clear_errors(source: Source, tmp_path: Path) -> None:
    assert "No backup file at nothing.pgdump" in source.run("restore", "nothing.pgdump").output
    stranger = tmp_path / "dump.sql"
    stranger.write_text("SELECT 1;")
    result = source.run("verify", str(stranger))
    assert result.exit_code == 1 and "is not a Homeroom backup name" in result.output


def test_without_backup_dir_the_commands_say_what_is_missing(source: Source) -> None:
    from backend import create_app
    from backend.config import settings_from
    from tests.conftest import base_config

    app = create_app(settings_from(**base_config(source.url, REDIS_URL="")))
    try:
        result = cli(app, "backup", "create")
        assert result.exit_code == 1 and "BACKUP_DIR is not set" in result.output
    finally:
        dispose_pools(app)


def test_a_broken_audit_chain_in_a_backup_fails_the_drill(tmp_path: Path) -> None:
    """The drill is not a formality: a backup whose audit trail was tampered with fails it."""
    from sqlalchemy import text

    from tests.backups.conftest import small_sqlite

    _url, app = small_sqlite(tmp_path, "tampered.sqlite3", events=3)
    try:
        with app.app_context():  # an attacker with file access edits an event behind the triggers' back
            db.session.execute(text("DROP TRIGGER audit_events_no_update"))
            db.session.execute(text("UPDATE audit_events SET action = 'nothing.happened' WHERE seq = 2"))
            db.session.commit()
        assert cli(app, "backup", "create").exit_code == 0
        result = cli(app, "backup", "verify")
        assert result.exit_code == 1
        assert "The restored audit trail does not verify" in result.output
        assert "content does not match its hash" in result.output
    finally:
        dispose_pools(app)
        shutil.rmtree(tmp_path / "backups", ignore_errors=True)
