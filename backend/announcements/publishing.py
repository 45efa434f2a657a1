"""Publishing an announcement (now, or at its time by the jobs queue) and withdrawing it.

Publishing is one guarded step: the announcement moves from scheduled to published only if it is
still scheduled (and, for the scheduled job, still due at the time the job was queued for), so two
runners, a retried job or an author's "publish now" racing the schedule publish it once. The
audience is resolved then, in one statement; urgent ones are emailed to everyone in it (those who
turned urgent announcements off aside), the others to those who asked for them."""

from __future__ import annotations

import uuid
from datetime import datetime

import structlog
from sqlalchemy import delete, func, select, update

from backend import audit, jobs, mail
from backend.announcements import audiences
from backend.announcements.models import Announcement, AnnouncementStatus, Recipient
from backend.auth import User
from backend.config import Settings
from backend.core.extensions import db
from backend.core.models import utcnow
from backend.mail import MailKind
from backend.notifications import opted_in
from backend.schools import School

log = structlog.get_logger("homeroom.announcements")
JOB_KIND = "announcement.publish"
EMAIL_JOB = "announcement.email"


def schedule(announcement: Announcement) -> None:
    """Queue the job that publishes it at `publish_at` (a new time queues a new job; the old
    one finds the announcement no longer due at its time and does nothing)."""
    assert announcement.publish_at is not None
    jobs.enqueue(
        JOB_KIND,
        {"announcement_id": str(announcement.id), "publish_at": announcement.publish_at.isoformat()},
        dedup_key=f"announcement:{announcement.id}:{announcement.publish_at.isoformat()}",
        school_id=announcement.school_id,
        run_at=announcement.publish_at,
    )


def publish(announcement: Announcement, actor: audit.Actor, due: datetime | None = None) -> bool:
    """Publish it if it is still scheduled (for `due`, when given); whether this call did. Its
    emails are written by a job queued with it (a whole school's are seconds of work: not the
    request's). The caller commits."""
    db.session.flush()  # a new announcement gets its id
    now = utcnow()
    guard = [Announcement.id == announcement.id, Announcement.status == AnnouncementStatus.SCHEDULED.value]
    if due is not None:
        guard.append(Announcement.publish_at == due)
    claimed = db.session.execute(
        update(Announcement)
        .where(*guard)
        .values(status=AnnouncementStatus.PUBLISHED.value, published_at=now, updated_at=now)
        .execution_options(synchronize_session=False)
    )
    if not claimed.rowcount:  # type: ignore[attr-defined]  # a DML result has rowcount
        return False
    db.session.refresh(announcement)
    announcement.recipient_count = audiences.resolve(announcement)
    if announcement.recipient_count:
        jobs.enqueue(
            EMAIL_JOB,
            {"announcement_id": str(announcement.id)},
            dedup_key=f"announcement:{announcement.id}:emails",
            school_id=announcement.school_id,
        )
    audit.record(
        actor,
        "announcement.publish",
        resource=announcement,
        resource_type="announcement",
        changes={"recipients": announcement.recipient_count, "scheduled": due is not None},
        school_id=announcement.school_id,
    )
    log.info(
        "announcement_published",
        announcement_id=str(announcement.id),
        recipients=announcement.recipient_count,
    )
    return True


def send_emails(job: jobs.Job, settings: Settings) -> None:
    """The job: write the emails of a published announcement to the outbox (none once it was
    withdrawn). The row is locked meanwhile on PostgreSQL, so a withdrawal waits and then cancels
    what this wrote."""
    announcement = db.session.get(
        Announcement, uuid.UUID(job.payload["announcement_id"]), with_for_update=True
    )
    if announcement is None or announcement.status != AnnouncementStatus.PUBLISHED:
        return
    queued = _email(settings, announcement)
    log.info("announcement_emails_queued", announcement_id=str(announcement.id), emails=queued)


def _email_key(announcement_id: uuid.UUID, user_id: uuid.UUID) -> str:
    return f"announcement:{announcement_id}:{user_id}"


def _email(settings: Settings, announcement: Announcement) -> int:
    """Queue the emails: urgent ones to everyone who has not turned them off, the rest to those
    who turned them on; one per person."""
    kind = MailKind.URGENT_ANNOUNCEMENT if announcement.urgent else MailKind.ANNOUNCEMENT
    people = db.session.execute(
        select(User.id, User.email, User.full_name)
        .join(Recipient, Recipient.user_id == User.id)
        .where(Recipient.announcement_id == announcement.id, User.is_active.is_(True))
    ).all()
    receiving = opted_in((person.id for person in people), kind)
    if not receiving:
        return 0
    school = db.session.scalar(select(School.name).where(School.id == announcement.school_id))
    author = db.session.scalar(select(User.full_name).where(User.id == announcement.author_id))
    shared = {
        "school": school,
        "author": author,
        "title": announcement.title,
        "body": announcement.body,
        "body_html": announcement.body_html,
        "urgent": announcement.urgent,
        "url": f"{settings.app_base_url}/announcements/{announcement.id}",
    }
    letters = [
        mail.Letter(
            _email_key(announcement.id, user_id),
            mail.Recipient(email, user_id),
            {**shared, "full_name": full_name},
        )
        for user_id, email, full_name in people
        if user_id in receiving
    ]
    return mail.queue_emails(settings, kind, announcement.school_id, letters)


def withdraw(announcement: Announcement) -> dict[str, int] | None:
    """Take it back, whatever it became since it was read (a guarded UPDATE: a runner publishing
    it meanwhile either finishes first, and its recipients are deleted here, or waits and finds it
    withdrawn): out of every feed (its recipients deleted, their emails not yet sent cancelled).
    What it had reached; None when it was already withdrawn. The caller audits and commits."""
    now = utcnow()
    taken = db.session.execute(
        update(Announcement)
        .where(Announcement.id == announcement.id, Announcement.status != AnnouncementStatus.WITHDRAWN.value)
        .values(status=AnnouncementStatus.WITHDRAWN.value, withdrawn_at=now, updated_at=now)
        .execution_options(synchronize_session=False)
    )
    db.session.refresh(announcement)
    if not taken.rowcount:  # type: ignore[attr-defined]  # a DML result has rowcount
        return None
    recipients, read = db.session.execute(
        select(func.count(), func.count(Recipient.read_at)).where(
            Recipient.announcement_id == announcement.id
        )
    ).one()
    users = db.session.scalars(select(Recipient.user_id).where(Recipient.announcement_id == announcement.id))
    cancelled = mail.cancel(_email_key(announcement.id, user_id) for user_id in users)
    db.session.execute(delete(Recipient).where(Recipient.announcement_id == announcement.id))
    return {"recipients": recipients, "read": read, "emails_cancelled": cancelled}


def run_scheduled(job: jobs.Job, settings: Settings) -> None:
    """The job: publish the announcement if it is still scheduled for the job's time."""
    announcement = db.session.get(Announcement, uuid.UUID(job.payload["announcement_id"]))
    if announcement is None or announcement.status != AnnouncementStatus.SCHEDULED:
        return  # withdrawn, or already published (by its author, or another runner)
    due = datetime.fromisoformat(job.payload["publish_at"])
    author = db.session.get(User, announcement.author_id)
    actor = audit.ActingUser(
        announcement.author_id, author.role if author else "teacher", announcement.school_id
    )
    if not publish(announcement, actor, due=due):
        log.info("announcement_not_due", announcement_id=str(announcement.id), job_time=due.isoformat())
