"""Writing announcements: create (published now or scheduled), edit before publishing, publish a
scheduled one now, withdraw; the author's and the admins' lists. Every change is audited."""

from __future__ import annotations

import uuid
from typing import Any

from sqlalchemy import true
from sqlalchemy import update as sql_update

from backend import audit
from backend.announcements import audiences, publishing
from backend.announcements.markdown import render
from backend.announcements.models import Announcement, AnnouncementStatus
from backend.announcements.schemas import AnnouncementIn, AnnouncementQuery, AnnouncementUpdateIn, Targets
from backend.core.errors import Conflict, Forbidden, NotFound, ValidationFailed
from backend.core.extensions import db
from backend.core.models import utcnow
from backend.core.pagination import Page, keyset, page_of
from backend.tenancy import AuthContext, Role

PUBLISHED = "Only the pin of a published announcement changes: withdraw it and post a new one."
WITHDRAWN = "A withdrawn announcement does not change (its pin aside): post a new one."
AUDITED = (
    "title",
    "body",
    "urgent",
    "pinned_until",
    "publish_at",
    "audience",
    "class_id",
    "grade_level",
    "student_ids",
)


def _mine(auth: AuthContext) -> Any:
    """Admins manage every announcement of the school; teachers their own."""
    return true() if auth.role == Role.ADMIN else Announcement.author_id == auth.user_id


def get(auth: AuthContext, announcement_id: uuid.UUID) -> Announcement:
    found = db.session.scalar(
        auth.scoped(Announcement).where(Announcement.id == announcement_id, _mine(auth))
    )
    if found is None:
        raise NotFound("Announcement not found.")
    return found


def authored(auth: AuthContext, announcement_id: uuid.UUID) -> Announcement:
    """`get`, for acting on it or reading its receipts: a teacher must still teach the class or
    the students it is for (a class changes hands; the announcement stays the teacher's own to
    read and withdraw)."""
    announcement = get(auth, announcement_id)
    if auth.role != Role.ADMIN:
        targets = Targets.model_validate(
            {
                name: getattr(announcement, name)
                for name in ("audience", "class_id", "grade_level", "student_ids")
            }
        )
        try:
            audiences.check(auth, targets)
        except ValidationFailed:
            raise Forbidden(
                "You no longer teach the class or the students this announcement is for."
            ) from None
    return announcement


def list_announcements(auth: AuthContext, query: AnnouncementQuery) -> Page[Announcement]:
    statement = auth.scoped(Announcement).where(_mine(auth))
    if query.status is not None:
        statement = statement.where(Announcement.status == query.status.value)
    order = (Announcement.created_at, Announcement.id)
    rows = db.session.scalars(keyset(statement, order, query, descending=True)).all()
    return page_of(rows, query, lambda a: [a.created_at, a.id])


def _future(body: AnnouncementIn | AnnouncementUpdateIn) -> None:
    if body.publish_at is not None and body.publish_at <= utcnow():
        raise ValidationFailed.on("body.publish_at", "Must be in the future; leave it out to publish now.")


def _set_targets(announcement: Announcement, targets: Targets) -> None:
    announcement.audience = targets.audience.value
    announcement.class_id = targets.class_id
    announcement.grade_level = targets.grade_level
    announcement.student_ids = [str(i) for i in targets.student_ids] if targets.student_ids else None


def create(auth: AuthContext, body: AnnouncementIn) -> Announcement:
    audiences.check(auth, body)
    _future(body)
    announcement = Announcement(
        id=uuid.uuid4(),
        school_id=auth.school_id,
        author_id=auth.user_id,
        title=body.title,
        body=body.body,
        body_html=render(body.body),
        urgent=body.urgent,
        pinned_until=body.pinned_until,
        publish_at=body.publish_at,
        status=AnnouncementStatus.SCHEDULED.value,
        recipient_count=0,
    )
    _set_targets(announcement, body)
    db.session.add(announcement)
    audit.record(
        auth,
        "announcement.create",
        resource=announcement,
        resource_type="announcement",
        changes=audit.snapshot(announcement, AUDITED),
    )
    if body.publish_at is None:
        publishing.publish(announcement, auth)
    else:
        publishing.schedule(announcement)
    db.session.commit()
    return announcement


def _apply(auth: AuthContext, announcement: Announcement, body: AnnouncementUpdateIn) -> None:
    changes = body.model_dump(exclude_unset=True)
    targets = body.targets()
    if targets is not None:
        audiences.check(auth, targets)
        _set_targets(announcement, targets)
    _future(body)
    for name in ("title", "urgent", "pinned_until", "publish_at"):
        if name in changes:
            setattr(announcement, name, changes[name])
    if "body" in changes:
        announcement.body, announcement.body_html = changes["body"], render(changes["body"])


def _still(announcement: Announcement, status: AnnouncementStatus) -> bool:
    """Hold the announcement for this transaction if it is still `status` (a runner may have
    published it since it was read): a guarded UPDATE, which on PostgreSQL also locks the row, so
    the runner's own guarded switch waits for this commit and sees the result."""
    held = db.session.execute(
        sql_update(Announcement)
        .where(Announcement.id == announcement.id, Announcement.status == status.value)
        .values(updated_at=utcnow())
        .execution_options(synchronize_session=False)
    )
    if held.rowcount:  # type: ignore[attr-defined]  # a DML result has rowcount
        return True
    db.session.refresh(announcement)
    return False


def update(auth: AuthContext, announcement_id: uuid.UUID, body: AnnouncementUpdateIn) -> Announcement:
    announcement = authored(auth, announcement_id)
    if body.model_fields_set - {"pinned_until"} and not _still(announcement, AnnouncementStatus.SCHEDULED):
        raise Conflict(PUBLISHED if announcement.status == AnnouncementStatus.PUBLISHED else WITHDRAWN)
    before = audit.snapshot(announcement, AUDITED)
    _apply(auth, announcement, body)
    changes = audit.diff(before, audit.snapshot(announcement, AUDITED))
    if changes:
        if "publish_at" in changes and announcement.publish_at is not None:
            publishing.schedule(announcement)
        audit.record(
            auth, "announcement.update", resource=announcement, resource_type="announcement", changes=changes
        )
    db.session.commit()
    return announcement


def publish_now(auth: AuthContext, announcement_id: uuid.UUID) -> Announcement:
    announcement = authored(auth, announcement_id)
    if not publishing.publish(announcement, auth):
        db.session.refresh(announcement)  # a runner (or another request) got there first
        raise Conflict(f"This announcement is {announcement.status}, not scheduled.")
    db.session.commit()
    return announcement


def withdraw(auth: AuthContext, announcement_id: uuid.UUID) -> Announcement:
    """Withdraw it (scheduled: it never publishes; published: out of every feed). Again: no change."""
    announcement = get(auth, announcement_id)
    reached = publishing.withdraw(announcement)
    if reached is None:
        return announcement
    before = AnnouncementStatus.PUBLISHED if announcement.published_at else AnnouncementStatus.SCHEDULED
    audit.record(
        auth,
        "announcement.withdraw",
        resource=announcement,
        resource_type="announcement",
        changes={"status": before.value, "title": announcement.title, **reached},
    )
    db.session.commit()
    return announcement
