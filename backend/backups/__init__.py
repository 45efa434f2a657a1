"""Backups: compressed dumps, their log, retention, off-site copies, restores and restore drills."""

from __future__ import annotations

from flask import Flask

from backend.backups.files import BackupError, local_backups
from backend.backups.making import create
from backend.backups.runs import last_good_backup_at, recent_runs, runs_for
from backend.config import Settings

__all__ = [
    "BackupError",
    "create",
    "init_app",
    "last_good_backup_at",
    "local_backups",
    "recent_runs",
    "runs_for",
]


def init_app(app: Flask, settings: Settings) -> None:
    from backend.backups import metrics
    from backend.backups.cli import backup_cli
    from backend.backups.health import check_backups, check_object_storage
    from backend.probes import register_check, register_state_metric

    app.cli.add_command(backup_cli)
    register_state_metric(app, metrics.read, metrics.fallback)
    if settings.backup_dir is not None:  # only where backups are configured
        register_check(app, "backup", check_backups, critical=False)
    if settings.backup_s3_bucket:
        register_check(app, "object_storage", check_object_storage, critical=False)
