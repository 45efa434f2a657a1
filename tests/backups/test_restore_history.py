"""A restore over the app's own database keeps the instance's backup log (issue 29, item 5)."""

from __future__ import annotations

from pathlib import Path

import pytest
from sqlalchemy import delete, func, select

from backend.backups.files import local_backups
from backend.backups.models import BackupRun
from backend.core.db import dispose_pools
from backend.core.extensions import db
from backend.schools.models import School
from tests.backups.conftest import ENGINES, backup_app, cli, migrate, new_database
from tests.conftest import make_school


def _log(app_url: str, backup_dir: Path) -> list[tuple[str, str, str | None]]:
    """The whole backup log, oldest first, read by a fresh app: (kind, status, file)."""
    app = backup_app(app_url, backup_dir)
    try:
        with app.app_context():
            rows = db.session.scalars(select(BackupRun).order_by(BackupRun.started_at))
            return [(row.kind, row.status, row.file) for row in rows]
    finally:
        dispose_pools(app)


@pytest.mark.parametrize("engine", ENGINES)
def test_a_restore_over_the_apps_own_database_keeps_its_backup_log(engine: str, tmp_path: Path) -> None:
    backup_dir = tmp_path / "backups"
    with new_database(engine, tmp_path) as url:
        migrate(url)
        app = backup_app(url, backup_dir)
        try:
            make_school(app)
            assert cli(app, "backup", "create", "--no-prune").exit_code == 0
            assert cli(app, "backup", "create", "--no-prune").exit_code == 0
            older, newer = (backup.name for backup in local_backups(backup_dir))
            # The newer backup holds the older one's create run. The instance's log loses that run
            # (its only copy is now the one inside the backup), then gains a verify.
            with app.app_context():
                db.session.execute(delete(BackupRun).where(BackupRun.file == older))
                db.session.commit()
            make_school(app)  # after the backup: the restore takes it away again
            verified = cli(app, "backup", "verify", newer)
            assert verified.exit_code == 0, verified.output

            restored = cli(app, "backup", "restore", newer, "--force")
            assert restored.exit_code == 0, restored.output
            listed = cli(app, "backup", "list")
        finally:
            dispose_pools(app)

        assert _log(url, backup_dir) == [
            ("create", "ok", older),  # from the backup: the instance had lost it
            ("create", "ok", newer),  # the instance's own runs made before the restore ...
            ("verify", "ok", newer),
            ("restore", "ok", newer),  # ... and the restore itself
        ]
        newer_line = next(line for line in listed.output.splitlines() if line.startswith(newer))
        assert "create ok" in newer_line and "verify ok" in newer_line and "restore ok" in newer_line
        app = backup_app(url, backup_dir)
        try:
            with app.app_context():
                assert (
                    db.session.scalar(select(func.count()).select_from(School)) == 1
                )  # the data is the backup's
                [restore_run] = db.session.scalars(select(BackupRun).filter_by(kind="restore"))
                assert restore_run.details is not None and restore_run.details["history_kept"] == 2
        finally:
            dispose_pools(app)


@pytest.mark.parametrize("engine", ENGINES)
def test_a_refused_restore_over_the_apps_own_database_changes_nothing_and_is_logged(
    engine: str, tmp_path: Path
) -> None:
    backup_dir = tmp_path / "backups"
    with new_database(engine, tmp_path) as url:
        migrate(url)
        app = backup_app(url, backup_dir)
        try:
            make_school(app)
            assert cli(app, "backup", "create", "--no-prune").exit_code == 0
            [backup] = local_backups(backup_dir)
            refused = cli(app, "backup", "restore", backup.name)  # no --force over live data
        finally:
            dispose_pools(app)
        assert refused.exit_code == 1 and "Nothing was changed" in refused.output
        assert _log(url, backup_dir) == [("create", "ok", backup.name), ("restore", "failed", backup.name)]
