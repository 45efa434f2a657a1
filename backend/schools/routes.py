"""/api/school: the caller's school and the settings its admins choose."""

from __future__ import annotations

from backend.core.api import api
from backend.core.extensions import db
from backend.schools import bp, service
from backend.schools.models import School
from backend.schools.schemas import SchoolSettingsIn, SchoolSettingsOut
from backend.tenancy import current_auth, requires


@bp.get("")
@requires("school.read")
@api(response=SchoolSettingsOut)
def get_school() -> School:
    """The caller's school and its settings."""
    return db.session.get_one(School, current_auth().school_id)


@bp.patch("")
@requires("school.manage")
@api(body=SchoolSettingsIn, response=SchoolSettingsOut)
def update_school(body: SchoolSettingsIn) -> School:
    """Change the school's settings (`alert_on_late`: absence alerts for late marks too)."""
    return service.update_settings(current_auth(), body)
