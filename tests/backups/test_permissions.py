"""Who may read the backups (issue 28, item 8): BACKUP_DIR is the owner's alone (700) even when it
already existed with a wider mode, every file written in it is 600, a fetched copy too, and a
SQLite database restored into a new file is 600. A folder that cannot be tightened is refused."""

from __future__ import annotations

import os
import shutil
import stat
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from flask import Flask

from backend.backups.files import local_backups
from backend.core.db import dispose_pools
from tests.backups.conftest import Source, backup_app, cli, new_database


def open_folder(folder: Path) -> None:
    """`folder`, made beforehand as many installs do: mode 755 (readable by every local user)."""
    folder.mkdir(parents=True, exist_ok=True)
    folder.chmod(0o755)
    assert stat.S_IMODE(folder.stat().st_mode) == 0o755


def modes(folder: Path) -> dict[str, int]:
    """Every entry in `folder`, at any depth, with its permission bits."""
    return {
        str(path.relative_to(folder)): stat.S_IMODE(path.stat().st_mode) for path in sorted(folder.rglob("*"))
    }


def test_an_existing_open_backup_folder_is_tightened_and_every_file_is_600(source: Source) -> None:
    open_folder(source.backup_dir)
    created = source.run("create")
    assert created.exit_code == 0, created.output
    if source.engine == "sqlite":  # the drill's scratch copy lives in the folder while it runs
        verified = source.run("verify")
        assert verified.exit_code == 0, verified.output

    assert stat.S_IMODE(source.backup_dir.stat().st_mode) == 0o700
    [backup] = local_backups(source.backup_dir)
    assert modes(source.backup_dir) == {path.name: 0o600 for path in backup.files()}


def test_a_folder_that_cannot_be_tightened_is_refused_in_one_line(
    source: Source, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Not the folder's owner: chmod fails (as root it cannot, so chmod is made to fail here)."""
    open_folder(source.backup_dir)
    real_chmod = os.chmod

    def not_the_owner(path: Any, mode: int, *args: Any, **kwargs: Any) -> None:
        if Path(path) == source.backup_dir:
            raise PermissionError(1, "Operation not permitted", str(path))
        real_chmod(path, mode, *args, **kwargs)

    monkeypatch.setattr(os, "chmod", not_the_owner)
    result = source.run("create")

    assert result.exit_code == 1
    [line] = result.output.strip().splitlines()[-1:]
    assert line.startswith("Error: BACKUP_DIR ") and str(source.backup_dir) in line
    assert "mode 755" in line and "700" in line
    assert list(source.backup_dir.iterdir()) == []  # nothing written into the open folder
    assert stat.S_IMODE(source.backup_dir.stat().st_mode) == 0o755
    [run] = source.runs(kind="create")
    assert run.status == "failed" and "mode 755" in (run.error or "")


@pytest.fixture
def offsite(source: Source, bucket: str) -> Iterator[Flask]:
    app = backup_app(source.url, source.backup_dir, BACKUP_S3_BUCKET=bucket)
    yield app
    dispose_pools(app)


def test_a_fetched_copy_is_600_in_a_tightened_folder(source: Source, offsite: Flask) -> None:
    assert cli(offsite, "backup", "create").exit_code == 0
    [backup] = local_backups(source.backup_dir)
    shutil.rmtree(source.backup_dir)
    open_folder(source.backup_dir)

    fetched = cli(offsite, "backup", "fetch")
    assert fetched.exit_code == 0, fetched.output
    assert stat.S_IMODE(source.backup_dir.stat().st_mode) == 0o700
    assert modes(source.backup_dir) == {path.name: 0o600 for path in backup.files()}


def test_a_sqlite_database_restored_into_a_new_file_is_600(source: Source, tmp_path: Path) -> None:
    if source.engine != "sqlite":
        pytest.skip("a PostgreSQL restore writes into the server, not a local file")
    assert source.run("create").exit_code == 0
    [backup] = local_backups(source.backup_dir)
    with new_database("sqlite", tmp_path / "restored") as target:
        restored = source.run("restore", backup.name, "--target-url", target)
        assert restored.exit_code == 0, restored.output
        assert modes(tmp_path / "restored") == {Path(target.removeprefix("sqlite:///")).name: 0o600}
