"""Publishing: freeze each student's report as the next version when it changed, say what changed,
email the guardians who may see grades (through the outbox; unsubscribing honoured), audit it."""

from __future__ import annotations

import uuid
from typing import Any

from sqlalchemy import ColumnElement, select

from backend import audit, mail
from backend.auth import User
from backend.classes import Enrollment, SchoolClass, Term
from backend.config import Settings
from backend.core.db import retry_on_conflict
from backend.core.errors import ValidationFailed
from backend.core.extensions import db
from backend.mail import MailKind
from backend.notifications import opted_in
from backend.reportcards.changes import describe
from backend.reportcards.content import Ids, build, enrolled, term_of
from backend.reportcards.models import ReportCard
from backend.reportcards.scales import lock
from backend.reportcards.schemas import PublishIn, PublishOut, Scope
from backend.reportcards.snapshot import ReportContent
from backend.students import GuardianLink, Student
from backend.tenancy import AuthContext


def scope_students(auth: AuthContext, term: Term, body: PublishIn) -> Ids | None:
    """The students a publication covers: a class's (of this term), a year group's (those enrolled
    in the term's classes), or None for everyone enrolled in the term's classes."""
    if body.scope == Scope.CLASS:
        found = db.session.scalar(
            select(SchoolClass.id).where(
                auth.owns(SchoolClass), SchoolClass.id == body.class_id, SchoolClass.term_id == term.id
            )
        )
        if found is None:
            raise ValidationFailed.on("body.class_id", "Not a class of this term.")
        return select(Enrollment.student_id).where(auth.owns(Enrollment), Enrollment.class_id == found)
    if body.scope == Scope.YEAR:
        return select(Student.id).where(auth.owns(Student), Student.grade_level == body.grade_level)
    return None


def latest_version() -> ColumnElement[bool]:
    """The condition "this card is its student's latest version for its term"."""
    newer = ReportCard.__table__.alias("newer")
    return ~(
        select(newer.c.id)
        .where(
            newer.c.term_id == ReportCard.term_id,
            newer.c.student_id == ReportCard.student_id,
            newer.c.version > ReportCard.version,
        )
        .exists()
    )


def _latest(auth: AuthContext, term: Term, students: Ids) -> dict[uuid.UUID, ReportCard]:
    cards = db.session.scalars(
        auth.scoped(ReportCard).where(
            ReportCard.term_id == term.id, ReportCard.student_id.in_(students), latest_version()
        )
    )
    return {card.student_id: card for card in cards}


def _new_cards(
    auth: AuthContext, contents: dict[uuid.UUID, ReportContent], latest: dict[uuid.UUID, ReportCard]
) -> list[ReportCard]:
    cards = []
    for student_id, content in contents.items():
        frozen: dict[str, Any] = content.model_dump(mode="json")
        before = latest.get(student_id)
        changes = describe(before.content, frozen) if before else []
        if before is not None and not changes:
            continue  # the same report, or only its labels differ: the published one stands
        cards.append(
            ReportCard(
                school_id=auth.school_id,
                term_id=content.term_id,
                student_id=student_id,
                version=before.version + 1 if before else 1,
                content=frozen,
                changes=changes,
                published_by=auth.user_id,
            )
        )
    return cards


def _letters(settings: Settings, auth: AuthContext, cards: list[ReportCard]) -> list[mail.Letter]:
    """One email per card and guardian whose link includes grades and who has not turned them off."""
    by_student = {card.student_id: card for card in cards}
    guardians = db.session.execute(
        select(GuardianLink.student_id, User.id, User.email, User.full_name)
        .join(User, User.id == GuardianLink.user_id)
        .where(
            auth.owns(GuardianLink),
            GuardianLink.student_id.in_(list(by_student)),
            GuardianLink.can_view_grades.is_(True),
            User.is_active.is_(True),
        )
    ).all()
    receiving = opted_in((guardian.id for guardian in guardians), MailKind.REPORT_CARD)
    letters = []
    for student_id, user_id, email, full_name in guardians:
        card = by_student[student_id]
        if user_id not in receiving:
            continue
        context = {
            "school": card.content["school_name"],  # read once, by the report itself
            "full_name": full_name,
            "student": f"{card.content['first_name']} {card.content['last_name']}",
            "term": card.content["term_name"],
            "verb": "is ready" if card.version == 1 else "was updated",
            "version": card.version,
            "changes": card.changes,
            "url": f"{settings.app_base_url}/report-cards/{card.id}",
        }
        letters.append(
            mail.Letter(f"report_card:{card.id}:{user_id}", mail.Recipient(email, user_id), context)
        )
    return letters


@retry_on_conflict  # two admins publishing at once: the second run sees the first's versions
def publish(settings: Settings, auth: AuthContext, term_id: uuid.UUID, body: PublishIn) -> PublishOut:
    term = term_of(auth, term_id)
    only = scope_students(auth, term, body)
    contents, scales = build(auth, term, only)
    latest = _latest(auth, term, only if only is not None else enrolled(auth, term))
    cards = _new_cards(auth, contents, latest)
    db.session.add_all(cards)
    db.session.flush()  # ids for the audit and the emails
    if cards:
        lock(scales)
    for card in cards:
        audit.record(
            auth,
            "report_card.publish",
            resource=card,
            resource_type="report_card",
            changes={
                "student_id": card.student_id,
                "term_id": term.id,
                "version": card.version,
                "changes": card.changes,
            },
        )
    queued = mail.queue_emails(
        settings, MailKind.REPORT_CARD, auth.school_id, _letters(settings, auth, cards)
    )
    first = sum(card.version == 1 for card in cards)  # before the commit, which expires the cards
    db.session.commit()
    return PublishOut(
        term_id=term.id,
        students=len(contents),
        published=first,
        updated=len(cards) - first,
        unchanged=len(contents) - len(cards),
        emails_queued=queued,
        class_comments_missing=sum(r.comment is None for c in contents.values() for r in c.classes),
        overall_comments_missing=sum(c.overall_comment is None for c in contents.values()),
    )
