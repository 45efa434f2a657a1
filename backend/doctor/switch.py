"""The kill switch: one `doctor_switch` row, shared by every instance and read before every fix,
and the `DB_DOCTOR_AUTOFIX` setting; fixing runs only while both allow it. Turning it off or on is
audited and logged."""

from __future__ import annotations

import structlog

from backend import audit
from backend.config import Settings
from backend.core.extensions import db
from backend.core.models import utcnow
from backend.doctor.errors import DoctorError
from backend.doctor.models import DoctorSwitch
from backend.doctor.schemas import SwitchOut

log = structlog.get_logger("homeroom.doctor")


def switch_state(settings: Settings) -> SwitchOut:
    row = db.session.get(DoctorSwitch, 1)
    by_switch = row.fixes_enabled if row is not None else True
    return SwitchOut(
        fixes_enabled=settings.db_doctor_autofix and by_switch,
        by_setting=settings.db_doctor_autofix,
        by_switch=by_switch,
        changed_at=row.changed_at if row else None,
        changed_by=row.changed_by if row else None,
    )


def require_fixing(settings: Settings) -> None:
    """Raise DoctorError, saying which of the two stopped it, unless fixing is switched on."""
    state = switch_state(settings)
    if not state.fixes_enabled:
        why = "DB_DOCTOR_AUTOFIX is false" if not state.by_setting else "an operator switched fixing off"
        raise DoctorError(f"Fixing is switched off ({why}); nothing was changed.")


def set_switch(settings: Settings, enabled: bool, actor: audit.Actor | None) -> SwitchOut:
    """Turn fixing on or off for every instance (they read the switch before each fix)."""
    row = db.session.get(DoctorSwitch, 1)
    if row is None:
        row = DoctorSwitch(id=1, fixes_enabled=enabled, changed_at=utcnow())
        db.session.add(row)
    row.fixes_enabled, row.changed_at = enabled, utcnow()
    row.changed_by = actor.user_id if actor else None
    audit.record(actor, "db.doctor_switch", changes={"fixes_enabled": enabled})
    db.session.commit()
    log.warning("doctor_switch", fixes_enabled=enabled)
    return switch_state(settings)
