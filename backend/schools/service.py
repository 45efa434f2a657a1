"""Creating schools, and the school's facts: "today" is judged in the school's time zone."""

from __future__ import annotations

import re
from typing import TYPE_CHECKING
from zoneinfo import available_timezones

from sqlalchemy import exists, select

from backend import audit
from backend.core.errors import Conflict, ValidationFailed
from backend.core.extensions import db
from backend.core.validation import trim
from backend.schools.models import School
from backend.tenancy import AuthContext

if TYPE_CHECKING:
    from backend.schools.schemas import SchoolSettingsIn

SCHOOL_FIELDS = ("name", "slug", "timezone", "currency")
SLUG = re.compile(r"[a-z0-9](?:[a-z0-9-]{0,61}[a-z0-9])?")
CURRENCY = re.compile(r"[A-Z]{3}")


def create_school(name: str, slug: str, timezone: str, currency: str) -> School:
    if not SLUG.fullmatch(slug):
        raise ValidationFailed.on("slug", "Use lower-case letters, digits and hyphens (at most 63).")
    if timezone not in available_timezones():
        raise ValidationFailed.on("timezone", "Not an IANA time zone, such as Europe/London.")
    if not CURRENCY.fullmatch(currency):
        raise ValidationFailed.on("currency", "Use an ISO 4217 code, such as GBP.")
    if db.session.scalar(select(exists().where(School.slug == slug))):
        raise Conflict(f"A school with slug {slug!r} already exists.")
    school = School(name=trim(name), slug=slug, timezone=timezone, currency=currency)
    db.session.add(school)
    db.session.flush()
    audit.start_chain(school.id)
    audit.record(
        None,
        "school.create",
        resource=school,
        resource_type="school",
        school_id=school.id,
        changes=audit.snapshot(school, SCHOOL_FIELDS),
    )
    db.session.commit()
    return school


def school_by_slug(slug: str) -> School | None:
    return db.session.scalar(select(School).where(School.slug == slug))


SETTINGS = ("alert_on_late",)


def update_settings(auth: AuthContext, data: SchoolSettingsIn) -> School:
    """Change the caller's school's settings (admins), audited."""
    school = db.session.get_one(School, auth.school_id)
    before = audit.snapshot(school, SETTINGS)
    for name, value in data.model_dump(exclude_unset=True).items():
        setattr(school, name, value)
    if changes := audit.diff(before, audit.snapshot(school, SETTINGS)):
        audit.record(auth, "school.update", resource=school, resource_type="school", changes=changes)
    db.session.commit()
    return school
