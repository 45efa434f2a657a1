"""Retention: BACKUP_RETENTION_DAYS of backups per database, and never the newest good one."""

from __future__ import annotations

import os
import shutil
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path

from backend.backups.files import STAMP, LocalBackup, find_local, local_backups
from tests.backups.conftest import Source


def backdate(backup: LocalBackup, days: float, database: str | None = None) -> str:
    """A copy of a real backup whose name says it was made `days` ago (checksum and all)."""
    when = datetime.now(UTC) - timedelta(days=days)
    extension = backup.name.split(".", 1)[1]
    name = f"{database or backup.info.database}-{when.strftime(STAMP)}.{extension}"
    folder = backup.path.parent
    shutil.copy(backup.path, folder / name)
    shutil.copy(backup.manifest_path, folder / f"{name}.json")
    digest = backup.recorded_checksum()
    (folder / f"{name}.sha256").write_text(f"{digest}  {name}\n")
    return name


def names(source: Source) -> set[str]:
    return {backup.name for backup in local_backups(source.backup_dir)}


def made(source: Source) -> LocalBackup:
    result = source.run("create", "--no-prune")
    assert result.exit_code == 0, result.output
    return local_backups(source.backup_dir)[-1]


def test_prune_keeps_the_retention_window(source: Source) -> None:
    fresh = made(source)
    ages = {days: backdate(fresh, days) for days in (1, 3, 6.9, 8, 10, 30)}
    result = source.run("prune")
    assert result.exit_code == 0, result.output
    assert names(source) == {fresh.name, ages[1], ages[3], ages[6.9]}
    for days in (8, 10, 30):
        assert f"deleted  {ages[days]}" in result.output
        assert not any(source.backup_dir.glob(f"{ages[days]}*"))  # the sidecars too
    assert "3 deleted, 4 kept." in result.output
    [run] = source.runs(kind="prune")
    assert run.status == "ok" and run.details is not None
    assert sorted(run.details["deleted"]) == sorted(ages[days] for days in (8, 10, 30))
    assert run.details["retention_days"] == 7


def test_the_newest_good_backup_stays_whatever_its_age(source: Source) -> None:
    real = made(source)
    old = {days: backdate(real, days) for days in (10, 20, 30)}
    real.delete()
    assert source.run("prune").exit_code == 0
    assert names(source) == {old[10]}


def test_a_corrupted_or_unfinished_newest_backup_does_not_count_as_good(source: Source) -> None:
    real = made(source)
    old = {days: backdate(real, days) for days in (10, 15, 20, 30)}
    real.delete()
    corrupted = find_local(source.backup_dir, old[10])
    data = bytearray(corrupted.path.read_bytes())
    data[100] ^= 0xFF
    corrupted.path.write_bytes(bytes(data))
    find_local(source.backup_dir, old[15]).checksum_path.unlink()  # never finished
    assert source.run("prune").exit_code == 0
    assert names(source) == {old[20]}


def test_each_database_keeps_its_own_newest(source: Source) -> None:
    fresh = made(source)
    other = backdate(fresh, 40, database="otherdb")
    mine = backdate(fresh, 40)
    assert source.run("prune").exit_code == 0
    assert names(source) == {fresh.name, other}
    assert mine not in names(source)


def test_prune_removes_what_dead_runs_left_but_not_a_run_in_progress(source: Source) -> None:
    made(source)
    dead = source.backup_dir / ".homeroom-20260101T000000Z.pgdump.partial"
    live = source.backup_dir / ".homeroom-20261130T000000Z.pgdump.partial"
    for path in (dead, live):
        path.write_bytes(b"half a dump")
    two_days_ago = time.time() - 2 * 86400
    os.utime(dead, (two_days_ago, two_days_ago))
    assert source.run("prune").exit_code == 0
    assert not dead.exists() and live.exists()


def test_create_prunes_after_success(source: Source) -> None:
    first = made(source)
    old = backdate(first, 9)
    result = source.run("create")
    assert result.exit_code == 0, result.output
    assert old not in names(source) and first.name in names(source) and len(names(source)) == 2
    assert "Retention: 1 old backup(s) deleted, 2 kept." in result.output


def test_retention_days_come_from_the_setting(source: Source, tmp_path: Path) -> None:
    from backend.core.db import dispose_pools
    from tests.backups.conftest import backup_app, cli

    fresh = made(source)
    two_days = backdate(fresh, 2)
    app = backup_app(source.url, source.backup_dir, BACKUP_RETENTION_DAYS=1)
    try:
        assert cli(app, "backup", "prune").exit_code == 0
    finally:
        dispose_pools(app)
    assert names(source) == {fresh.name}
    assert two_days not in names(source)
