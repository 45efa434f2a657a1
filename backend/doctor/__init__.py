"""The schema doctor: `flask db doctor` scans the live database against the models, fixes what is
safe to fix (after a backup), drafts migrations for the rest, and can keep watching.

Inside: `issues` (what a scan finds), `scan`, `diffs` and `constraints` (finding it), `lock` (one at
a time), `switch` (the kill switch), `service` (running and recording scans), `drafts`, `fixes`,
`watcher`, `cli` and `metrics`. Other packages import only from here.
"""

from __future__ import annotations

from flask import Flask
from flask_migrate.cli import db as migrate_commands

from backend.config import Settings
from backend.doctor.drafts import read_draft
from backend.doctor.errors import DoctorError
from backend.doctor.fixes import apply_fixes, fix_history
from backend.doctor.models import DoctorScan
from backend.doctor.schemas import FixOutcomeOut, SwitchOut
from backend.doctor.service import last_scan, run_scan
from backend.doctor.switch import set_switch, switch_state

__all__ = [
    "DoctorError",
    "DoctorScan",
    "FixOutcomeOut",
    "SwitchOut",
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
