"""The one list of model modules, so Alembic and the drift check see every table."""

from __future__ import annotations

import importlib

# Each feature with tables adds its `backend.<feature>.models` module here.
MODEL_MODULES: tuple[str, ...] = (
    "backend.schools.models",
    "backend.auth.models",
    "backend.students.models",
    "backend.classes.models",
    "backend.attendance.models",
    "backend.grades.models",
    "backend.audit.models",
    "backend.fees.models",
    "backend.core.idempotency",
    "backend.health_records.models",
    "backend.backups.models",
    "backend.doctor.models",
    "backend.assistant.models",
    "backend.mail.models",
    "backend.jobs.models",
    "backend.xero.models",
    "backend.reportcards.models",
    "backend.announcements.models",
)


def import_all_models() -> None:
    for module in MODEL_MODULES:
        importlib.import_module(module)
