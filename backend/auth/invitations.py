"""Invitations: an admin creates a user without a password; the user gets a single-use link
(stored as its SHA-256, valid INVITATION_TTL_HOURS) to choose one, and is signed in when they do.
"""

from __future__ import annotations

import uuid
from datetime import datetime, timedelta

from sqlalchemy import select, update

from backend import audit, mail
from backend.auth.models import Invitation, User
from backend.auth.password_policy import require_strong, words_about_user
from backend.auth.service import Client, IssuedTokens, acting_user, open_session, password_hasher
from backend.auth.tokens import hash_secret_token, new_secret_token
from backend.config import current_settings
from backend.core.errors import BadRequest, Conflict, NotFound
from backend.core.extensions import db
from backend.core.models import utcnow
from backend.mail import MailKind
from backend.schools import School
from backend.tenancy import AuthContext

NOT_USABLE = "This invitation link is not valid, was already used, or has expired."
# The password hash of an account whose user has not chosen a password yet: no hash matches it.
NO_PASSWORD_YET = "!invited"  # noqa: S105 - a marker no hash can equal, not a password


def _revoke_pending(user_id: uuid.UUID, now: datetime) -> int:
    """End the user's pending invitation, if any; how many were."""
    result = db.session.execute(
        update(Invitation)
        .where(
            Invitation.user_id == user_id, Invitation.accepted_at.is_(None), Invitation.revoked_at.is_(None)
        )
        .values(revoked_at=now)
    )
    return int(result.rowcount or 0)  # type: ignore[attr-defined]  # a DML result has rowcount


def invite(actor: audit.Actor | None, user: User) -> Invitation:
    """A new invitation for `user` (any pending one is revoked) and its email, in the caller's
    transaction."""
    settings, now = current_settings(), utcnow()
    _revoke_pending(user.id, now)
    token = new_secret_token()
    expires = now + timedelta(hours=settings.invitation_ttl_hours)
    invitation = Invitation(
        id=uuid.uuid4(),
        school_id=user.school_id,
        user_id=user.id,
        token_hash=hash_secret_token(token),
        expires_at=expires,
        created_by=actor.user_id if actor else None,
    )
    db.session.add(invitation)
    school = db.session.get_one(School, user.school_id)
    mail.queue_email(
        settings,
        MailKind.INVITATION,
        f"invitation:{invitation.id}",
        mail.Recipient(user.email, user.id),
        user.school_id,
        school=school.name,
        full_name=user.full_name,
        role=user.role,
        accept_url=f"{settings.app_base_url}/invitation?token={token}",
        hours=settings.invitation_ttl_hours,
    )
    audit.record(
        actor,
        "user.invite",
        resource=user,
        resource_type="user",
        school_id=user.school_id,
        changes={"invitation_id": invitation.id, "expires_at": expires},
    )
    return invitation


def _pending_user(auth: AuthContext, user_id: uuid.UUID) -> User:
    user = auth.get_scoped(User, user_id, "User")
    if user.password_hash != NO_PASSWORD_YET:
        raise Conflict("This user has already chosen a password.")
    return user


def resend(auth: AuthContext, user_id: uuid.UUID) -> Invitation:
    invitation = invite(auth, _pending_user(auth, user_id))
    db.session.commit()
    return invitation


def revoke(auth: AuthContext, user_id: uuid.UUID) -> None:
    user = _pending_user(auth, user_id)
    if not _revoke_pending(user.id, utcnow()):
        raise NotFound("No pending invitation for this user.")
    audit.record(auth, "user.invitation_revoke", resource=user, resource_type="user")
    db.session.commit()


def accept(token: str, password: str, client: Client) -> IssuedTokens:
    """Set the invited user's password and sign them in; the link works once."""
    now = utcnow()
    row = db.session.execute(
        select(Invitation, User)
        .join(User, User.id == Invitation.user_id)
        .where(Invitation.token_hash == hash_secret_token(token))
        .with_for_update(of=Invitation)
    ).one_or_none()
    if row is None:
        raise BadRequest(NOT_USABLE)
    invitation, user = row
    if invitation.accepted_at or invitation.revoked_at or invitation.expires_at <= now or not user.is_active:
        raise BadRequest(NOT_USABLE)
    require_strong(password, words_about_user(user))
    invitation.accepted_at = now
    user.password_hash = password_hasher().hash(password)
    user.password_changed_at = now
    audit.record(
        acting_user(user),
        "auth.invitation_accept",
        resource=user,
        resource_type="user",
        school_id=user.school_id,
        changes={"invitation_id": invitation.id},
    )
    return open_session(user, client)
