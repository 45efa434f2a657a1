"""Which optional emails each user receives (absence alerts, fee reminders, report cards, urgent
announcements: on unless turned off; every announcement: off unless turned on), chosen in the app or
with the signed unsubscribe link every such email carries."""

from __future__ import annotations

import uuid
from collections.abc import Iterable
from urllib.parse import parse_qs

from sqlalchemy import select

from backend import audit
from backend.auth import User
from backend.config import Settings
from backend.core.errors import BadRequest
from backend.core.extensions import db
from backend.core.models import utcnow
from backend.mail import (
    OFF_BY_DEFAULT,
    OPTIONAL_KINDS,
    MailKind,
    NotificationPreference,
    read_unsubscribe_token,
)


def preferences(user_id: uuid.UUID) -> dict[str, bool]:
    chosen = dict(
        db.session.execute(
            select(NotificationPreference.kind, NotificationPreference.enabled).where(
                NotificationPreference.user_id == user_id
            )
        ).all()
    )
    return {kind.value: chosen.get(kind.value, kind not in OFF_BY_DEFAULT) for kind in OPTIONAL_KINDS}


def _set(user_id: uuid.UUID, kind: MailKind, enabled: bool) -> bool:
    """Record the choice; whether it changed anything."""
    row = db.session.scalar(
        select(NotificationPreference).where(
            NotificationPreference.user_id == user_id, NotificationPreference.kind == kind.value
        )
    )
    if row is None:
        db.session.add(
            NotificationPreference(user_id=user_id, kind=kind.value, enabled=enabled, updated_at=utcnow())
        )
        return enabled == (kind in OFF_BY_DEFAULT)  # whether it differs from the default
    if row.enabled == enabled:
        return False
    row.enabled, row.updated_at = enabled, utcnow()
    return True


def update(actor: audit.Actor, changes: dict[str, bool]) -> dict[str, bool]:
    changed = {kind: value for kind, value in changes.items() if _set(actor.user_id, MailKind(kind), value)}
    if changed:
        audit.record(
            actor, "notifications.update", resource_type="user", resource_id=actor.user_id, changes=changed
        )
    db.session.commit()
    return preferences(actor.user_id)


# RFC 8058: the one body a one-click POST carries.
ONE_CLICK = {"List-Unsubscribe": ["One-Click"]}


def unsubscribe(settings: Settings, token: str, form: bytes = b"") -> MailKind:
    """Turn off the kind named by a signed link (no sign-in needed); the kind it was. `form` is the
    POST's body: none (the web app's page) or `List-Unsubscribe=One-Click` (a mail provider's
    one-click, RFC 8058). Repeating it changes nothing and answers the same."""
    text = form.decode("utf-8", "replace").strip()
    if text and parse_qs(text, keep_blank_values=True) != ONE_CLICK:
        raise BadRequest("A one-click unsubscribe's body is List-Unsubscribe=One-Click.")
    found = read_unsubscribe_token(settings, token)
    if found is None:
        raise BadRequest("This unsubscribe link is not valid.")
    user_id, kind = found
    user = db.session.get(User, uuid.UUID(user_id))
    if user is None:
        raise BadRequest("This unsubscribe link is not valid.")
    if _set(user.id, kind, False):
        audit.record(
            audit.ActingUser(user.id, user.role, user.school_id),
            "notifications.unsubscribe",
            resource_type="user",
            resource_id=user.id,
            school_id=user.school_id,
            changes={kind.value: False},
        )
    db.session.commit()
    return kind


def opted_in(user_ids: Iterable[uuid.UUID], kind: MailKind) -> set[uuid.UUID]:
    """Those of `user_ids` who receive `kind`: everyone who has not turned it off, or for a kind
    that is off by default, those who turned it on."""
    ids = set(user_ids)
    if kind in OFF_BY_DEFAULT:
        return set(
            db.session.scalars(
                select(NotificationPreference.user_id).where(
                    NotificationPreference.user_id.in_(ids),
                    NotificationPreference.kind == kind.value,
                    NotificationPreference.enabled.is_(True),
                )
            )
        )
    off = db.session.scalars(
        select(NotificationPreference.user_id).where(
            NotificationPreference.user_id.in_(ids),
            NotificationPreference.kind == kind.value,
            NotificationPreference.enabled.is_(False),
        )
    )
    return ids - set(off)
