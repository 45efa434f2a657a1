"""The schema doctor: `flask db doctor` scans the live database against the models, fixes what is
safe to fix (after a backup), drafts migrations for the rest, and can keep watching."""

from __future__ import annotations

from flask import Flask
from flask_migrate.cli import db as migrate_commands

from backend.config import Settings
from backend.doctor.models import DoctorFix, DoctorScan
from backend.doctor.service import (
    DoctorError,
    FixOutcome,
    SwitchState,
    apply_fixes,
    fix_history,
    last_scan,
    read_draft,
    run_scan,
    set_switch,
    switch_state,
)

__all__ = [
    "DoctorError",
    "DoctorFix",
    "DoctorScan",
    "FixOutcome",
    "SwitchState",
    "apply_fixes",
    "fix_history",
    "init_app",
    "last_scan",
    "read_draft",
    "run_scan",
    "set_switch",
    "switch_state",
]


def init_app(app: Flask, settings: Settings) -> None:
    from backend.doctor import metrics
    from backend.doctor.cli import doctor_command
    from backend.probes import register_state_metric

    migrate_commands.add_command(doctor_command)  # `flask db doctor`, beside Flask-Migrate's own
    register_state_metric(app, metrics.read, metrics.fallback)
