"""Each user's feed: the announcements published to them (pinned ones first, then the newest),
the unread count (one index-only count), and marking read (idempotent)."""

from __future__ import annotations

import uuid
from typing import Any

from sqlalchemy import ColumnElement, Row, Select, case, func, select, update

from backend.announcements.models import Announcement, Recipient
from backend.auth import User
from backend.core.errors import NotFound
from backend.core.extensions import db
from backend.core.models import utcnow
from backend.core.pagination import Page, PageQuery, keyset, page_of
from backend.tenancy import AuthContext


def _pinned(auth: AuthContext) -> ColumnElement[int]:
    """1 while the announcement is pinned (to the end of its day, in the school's calendar)."""
    return case((Announcement.pinned_until >= auth.today(), 1), else_=0)


def _items(auth: AuthContext) -> Any:
    pinned = _pinned(auth)
    return (
        select(
            Announcement.id,
            Announcement.title,
            Announcement.body_html,
            Announcement.urgent,
            (pinned == 1).label("pinned"),
            Announcement.pinned_until,
            User.full_name.label("author_name"),
            Announcement.published_at,
            Recipient.read_at,
        )
        .select_from(Recipient)
        .join(Announcement, Announcement.id == Recipient.announcement_id)
        .join(User, User.id == Announcement.author_id)
        .where(auth.owns(Recipient), Recipient.user_id == auth.user_id)
    )


def feed(auth: AuthContext, query: PageQuery) -> Page[Row[Any]]:
    """The caller's announcements: pinned first, then newest first (keyset-paginated)."""
    order = (_pinned(auth), Announcement.published_at, Announcement.id)
    rows = db.session.execute(keyset(_items(auth), order, query, descending=True)).all()
    return page_of(rows, query, lambda r: [int(r.pinned), r.published_at, r.id])


def one(auth: AuthContext, announcement_id: uuid.UUID) -> Row[Any]:
    """One announcement of the caller's feed (anyone else's is a 404)."""
    row = db.session.execute(_items(auth).where(Recipient.announcement_id == announcement_id)).first()
    if row is None:
        raise NotFound("Announcement not found.")
    return row


def unread_query(auth: AuthContext) -> Select[int]:
    """The count of the caller's unread announcements: an index-only count over the partial index
    of unread recipients (withdrawn announcements have no recipients left)."""
    return (
        select(func.count())
        .select_from(Recipient)
        .where(auth.owns(Recipient), Recipient.user_id == auth.user_id, Recipient.read_at.is_(None))
    )


def unread(auth: AuthContext) -> int:
    return int(db.session.scalar(unread_query(auth)) or 0)


def mark_read(auth: AuthContext, announcement_id: uuid.UUID) -> None:
    """Read (again: no change, the first time stands)."""
    mine = (
        auth.owns(Recipient),
        Recipient.user_id == auth.user_id,
        Recipient.announcement_id == announcement_id,
    )
    db.session.execute(update(Recipient).where(*mine, Recipient.read_at.is_(None)).values(read_at=utcnow()))
    if db.session.scalar(select(Recipient.read_at).where(*mine)) is None:
        raise NotFound("Announcement not found.")
    db.session.commit()


def mark_all_read(auth: AuthContext) -> int:
    """Everything in the caller's feed read; how many were unread."""
    result = db.session.execute(
        update(Recipient)
        .where(auth.owns(Recipient), Recipient.user_id == auth.user_id, Recipient.read_at.is_(None))
        .values(read_at=utcnow())
    )
    db.session.commit()
    return int(result.rowcount or 0)  # type: ignore[attr-defined]  # a DML result has rowcount
