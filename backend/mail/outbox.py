"""The outbox: messages are added in the caller's transaction and delivered after it commits.

- `enqueue` adds a message unless one with the same dedup key (recipient + event) exists; a
  cancelled one comes back to the queue. It never commits: the message commits, or rolls back,
  with the change that caused it.
- `cancel` withdraws queued messages whose reason went away (a corrected absence).
- `claim` hands a batch of due messages to one sender: `FOR UPDATE SKIP LOCKED` on PostgreSQL, a
  conditional update per row on SQLite. A claim is a lease: a sender that dies leaves its
  messages to be claimed again when the lease ends.
- `delivered` / `failed` record the outcome; a failure waits `OUTBOX_BACKOFF_SECONDS` doubled per
  attempt (capped), and after OUTBOX_MAX_ATTEMPTS the message is dead.
"""

from __future__ import annotations

import uuid
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import delete, func, select, update

from backend.config import Settings
from backend.core.db import claim_due
from backend.core.extensions import db
from backend.core.models import utcnow
from backend.mail.models import MailKind, MailStatus, OutboxMessage
from backend.mail.templates import Rendered, render

LEASE = timedelta(minutes=5)


@dataclass(frozen=True)
class Recipient:
    email: str
    user_id: uuid.UUID | None = None


@dataclass(frozen=True)
class Letter:
    """One message of a batch: its dedup key, its recipient and what its template is filled with."""

    dedup_key: str
    to: Recipient
    context: dict[str, Any]


def enqueue(
    kind: MailKind,
    recipient: Recipient,
    dedup_key: str,
    mail: Rendered,
    *,
    school_id: uuid.UUID | None = None,
) -> OutboxMessage | None:
    """Queue one message in the current transaction; None when the event already has one."""
    existing = db.session.scalar(select(OutboxMessage).where(OutboxMessage.dedup_key == dedup_key))
    return _queued(existing) if existing is not None else _add(kind, recipient, dedup_key, mail, school_id)


def _queued(existing: OutboxMessage) -> OutboxMessage | None:
    """A message already there for the event: a cancelled one goes back to the queue, else None."""
    if existing.status == MailStatus.CANCELLED:
        existing.status, existing.next_attempt_at = MailStatus.QUEUED.value, utcnow()
        return existing
    return None


def _add(
    kind: MailKind, recipient: Recipient, dedup_key: str, mail: Rendered, school_id: uuid.UUID | None
) -> OutboxMessage:
    message = OutboxMessage(
        school_id=school_id,
        user_id=recipient.user_id,
        kind=kind.value,
        recipient=recipient.email,
        dedup_key=dedup_key,
        subject=mail.subject,
        text_body=mail.text,
        html_body=mail.html,
        headers=mail.headers,
        status=MailStatus.QUEUED.value,
        attempts=0,
        next_attempt_at=utcnow(),
    )
    db.session.add(message)
    return message


def queue_email(
    settings: Settings,
    kind: MailKind,
    dedup_key: str,
    to: Recipient,
    school_id: uuid.UUID | None,
    **context: Any,
) -> OutboxMessage | None:
    """Render `kind` for `to` (with an unsubscribe link where the kind has one) and queue it."""
    user_id = str(to.user_id) if to.user_id else None
    return enqueue(
        kind, to, dedup_key, render(settings, kind, user_id=user_id, **context), school_id=school_id
    )


def queue_emails(
    settings: Settings, kind: MailKind, school_id: uuid.UUID | None, letters: Iterable[Letter]
) -> int:
    """`queue_email` for many at once: one query for the keys already queued, whatever the number
    of letters (the new messages are inserted together at the flush). How many were queued."""
    batch: dict[str, Letter] = {}
    for letter in letters:
        batch.setdefault(letter.dedup_key, letter)  # the first letter for a key, as one by one
    if not batch:
        return 0
    existing = {
        message.dedup_key: message
        for message in db.session.scalars(select(OutboxMessage).where(OutboxMessage.dedup_key.in_(batch)))
    }
    queued = 0
    for key, letter in batch.items():
        if key in existing:
            queued += _queued(existing[key]) is not None
            continue
        user_id = str(letter.to.user_id) if letter.to.user_id else None
        _add(kind, letter.to, key, render(settings, kind, user_id=user_id, **letter.context), school_id)
        queued += 1
    return queued


def cancel(dedup_keys: Iterable[str]) -> int:
    """Withdraw the queued (not yet claimed) messages with these keys; how many were."""
    keys = list(dedup_keys)
    if not keys:
        return 0
    result = db.session.execute(
        update(OutboxMessage)
        .where(OutboxMessage.dedup_key.in_(keys), OutboxMessage.status == MailStatus.QUEUED.value)
        .values(status=MailStatus.CANCELLED.value, updated_at=utcnow())
    )
    return int(result.rowcount or 0)  # type: ignore[attr-defined]  # a DML result has rowcount


def _due(now: datetime) -> Any:
    queued = (OutboxMessage.status == MailStatus.QUEUED.value) & (OutboxMessage.next_attempt_at <= now)
    abandoned = (OutboxMessage.status == MailStatus.SENDING.value) & (OutboxMessage.claimed_until < now)
    return queued | abandoned


def claim(sender: str, limit: int) -> list[OutboxMessage]:
    """Up to `limit` due messages, now leased to `sender` (committed before they are sent)."""
    now = utcnow()
    lease = {"status": MailStatus.SENDING.value, "claimed_by": sender, "claimed_until": now + LEASE}
    return claim_due(OutboxMessage, _due(now), OutboxMessage.next_attempt_at, lease, limit)


def delivered(message: OutboxMessage) -> None:
    message.status, message.sent_at = MailStatus.SENT.value, utcnow()
    message.attempts += 1
    message.text_body, message.html_body = "", None  # delivered: the content is no longer needed
    message.claimed_by = message.claimed_until = message.last_error = None
    db.session.commit()


def backoff(settings: Settings, attempts: int) -> timedelta:
    seconds = settings.outbox_backoff_seconds * 2 ** (attempts - 1)
    return timedelta(seconds=min(seconds, settings.outbox_backoff_max_seconds))


def failed(settings: Settings, message: OutboxMessage, error: str, *, final: bool = False) -> None:
    """An attempt failed: queued again after the backoff, or dead after OUTBOX_MAX_ATTEMPTS (at
    once when `final`: no retry can help)."""
    message.attempts += 1
    message.last_error = error[:300]
    message.claimed_by = message.claimed_until = None
    if final or message.attempts >= settings.outbox_max_attempts:
        message.status = MailStatus.DEAD.value
    else:
        message.status = MailStatus.QUEUED.value
        message.next_attempt_at = utcnow() + backoff(settings, message.attempts)
    db.session.commit()


def purge(older_than: timedelta) -> int:
    """Delete sent and cancelled messages last touched before `older_than` ago; how many. Their
    dedup keys go with them, so keep this longer than any event could repeat (a fee reminder's
    stage lasts as long as the invoice is open)."""
    result = db.session.execute(
        delete(OutboxMessage).where(
            OutboxMessage.status.in_((MailStatus.SENT.value, MailStatus.CANCELLED.value)),
            OutboxMessage.updated_at < utcnow() - older_than,
        )
    )
    db.session.commit()
    return int(result.rowcount or 0)  # type: ignore[attr-defined]  # a DML result has rowcount


@dataclass(frozen=True)
class OutboxStatus:
    counts: dict[str, dict[str, int]]  # status -> kind -> messages
    oldest_due: datetime | None  # the longest-waiting message that could be sent now


PENDING = (MailStatus.QUEUED.value, MailStatus.SENDING.value, MailStatus.DEAD.value)


def status(*, pending_only: bool = False) -> OutboxStatus:
    """Messages by status and kind (with `pending_only`, just those still needing attention: the
    cheap form for health checks and metrics, which never count the sent history)."""
    statement = select(OutboxMessage.status, OutboxMessage.kind, func.count()).group_by(
        OutboxMessage.status, OutboxMessage.kind
    )
    if pending_only:
        statement = statement.where(OutboxMessage.status.in_(PENDING))
    rows = db.session.execute(statement)
    counts: dict[str, dict[str, int]] = {}
    for state, kind, number in rows:
        counts.setdefault(state, {})[kind] = number
    oldest = db.session.scalar(select(func.min(OutboxMessage.next_attempt_at)).where(_due(utcnow())))
    return OutboxStatus(counts, oldest)
