"""/api/announcements (writing them: admins, and teachers for their classes, with read receipts)
and /api/me/announcements (each user's feed)."""

from __future__ import annotations

import uuid
from typing import Any

from backend.announcements import authoring, bp, feed, receipts
from backend.announcements.models import Announcement
from backend.announcements.schemas import (
    AnnouncementIn,
    AnnouncementOut,
    AnnouncementQuery,
    AnnouncementUpdateIn,
    FeedItemOut,
    MarkedOut,
    NotReadOut,
    NotReadQuery,
    ReceiptsOut,
    ReceiptsQuery,
    UnreadOut,
)
from backend.core.api import api
from backend.core.idempotency import idempotent
from backend.core.pagination import Page, PageQuery
from backend.tenancy import current_auth, requires


@bp.get("/announcements")
@requires("announcements.write")
@api(query=AnnouncementQuery, response=Page[AnnouncementOut])
def list_announcements(query: AnnouncementQuery) -> Page[Announcement]:
    """Announcements written (admins: the school's; teachers: their own), newest first."""
    return authoring.list_announcements(current_auth(), query)


@bp.post("/announcements")
@requires("announcements.write")
@idempotent
@api(body=AnnouncementIn, response=AnnouncementOut, status=201, problems=(422,))
def create(body: AnnouncementIn) -> Announcement:
    """Publish an announcement now, or schedule it (`publish_at`); urgent ones are also emailed."""
    return authoring.create(current_auth(), body)


@bp.get("/announcements/<uuid:announcement_id>")
@requires("announcements.write")
@api(response=AnnouncementOut)
def get(announcement_id: uuid.UUID) -> Announcement:
    """One announcement as written, with its audience and state."""
    return authoring.get(current_auth(), announcement_id)


@bp.patch("/announcements/<uuid:announcement_id>")
@requires("announcements.write")
@api(body=AnnouncementUpdateIn, response=AnnouncementOut, problems=(409, 422))
def update(announcement_id: uuid.UUID, body: AnnouncementUpdateIn) -> Announcement:
    """Edit a scheduled announcement (after publishing, only its pin: 409 otherwise)."""
    return authoring.update(current_auth(), announcement_id, body)


@bp.post("/announcements/<uuid:announcement_id>/publish")
@requires("announcements.write")
@api(response=AnnouncementOut, problems=(409,))
def publish(announcement_id: uuid.UUID) -> Announcement:
    """Publish a scheduled announcement now (409 once published or withdrawn)."""
    return authoring.publish_now(current_auth(), announcement_id)


@bp.post("/announcements/<uuid:announcement_id>/withdraw")
@requires("announcements.write")
@api(response=AnnouncementOut)
def withdraw(announcement_id: uuid.UUID) -> Announcement:
    """Withdraw it: a scheduled one never publishes, a published one leaves every feed (the audit
    keeps it). Withdrawing again changes nothing."""
    return authoring.withdraw(current_auth(), announcement_id)


@bp.get("/announcements/<uuid:announcement_id>/receipts")
@requires("announcements.write")
@api(query=ReceiptsQuery, response=ReceiptsOut)
def read_receipts(announcement_id: uuid.UUID, query: ReceiptsQuery) -> ReceiptsOut:
    """How many of the audience (or of a class's families) have read it."""
    return receipts.counts(current_auth(), announcement_id, query)


@bp.get("/announcements/<uuid:announcement_id>/receipts/not-read")
@requires("announcements.write")
@api(query=NotReadQuery, response=Page[NotReadOut])
def not_read(announcement_id: uuid.UUID, query: NotReadQuery) -> Page[NotReadOut]:
    """Who has not read it yet (or of a class's families), by name, with their children."""
    return receipts.not_read(current_auth(), announcement_id, query)


@bp.get("/me/announcements")
@requires("announcements.read")
@api(query=PageQuery, response=Page[FeedItemOut])
def my_feed(query: PageQuery) -> Page[Any]:
    """Your announcements: pinned first, then the newest."""
    return feed.feed(current_auth(), query)


@bp.get("/me/announcements/unread-count")
@requires("announcements.read")
@api(response=UnreadOut)
def unread_count() -> UnreadOut:
    """How many of your announcements you have not read."""
    return UnreadOut(unread=feed.unread(current_auth()))


@bp.get("/me/announcements/<uuid:announcement_id>")
@requires("announcements.read")
@api(response=FeedItemOut)
def my_announcement(announcement_id: uuid.UUID) -> Any:
    """One of your announcements."""
    return feed.one(current_auth(), announcement_id)


@bp.post("/me/announcements/<uuid:announcement_id>/read")
@requires("announcements.read")
@api(status=204)
def mark_read(announcement_id: uuid.UUID) -> None:
    """Mark it read (again: no change)."""
    feed.mark_read(current_auth(), announcement_id)


@bp.post("/me/announcements/read")
@requires("announcements.read")
@api(response=MarkedOut)
def mark_all_read() -> MarkedOut:
    """Mark every announcement of your feed read."""
    return MarkedOut(marked=feed.mark_all_read(current_auth()))
