"""Self-service password reset.

`request_reset` writes one row whatever the address, so the answer (202, the same body) and the
work behind it are the same for an account that exists and one that does not. The mail sender
turns each request into a single-use token (SHA-256 stored, PASSWORD_RESET_TTL_MINUTES) and an
email, or into nothing. `confirm_reset` sets the new password under the usual policy, ends every
session of the user and records the change.
"""

from __future__ import annotations

from datetime import timedelta

from sqlalchemy import select, update

from backend import audit, mail
from backend.auth.access import forget_sessions
from backend.auth.models import PasswordResetRequest, PasswordResetToken, User
from backend.auth.password_policy import require_strong, words_about_user
from backend.auth.schemas import normalise_email
from backend.auth.service import acting_user, password_hasher, revoke_user_sessions
from backend.auth.tokens import hash_secret_token, new_secret_token
from backend.config import Settings
from backend.core.errors import BadRequest
from backend.core.extensions import db
from backend.core.models import utcnow
from backend.mail import MailKind
from backend.schools import School

NOT_USABLE = "This reset link is not valid, was already used, or has expired."
STALE_REQUEST = timedelta(days=1)  # a request the sender reaches later than this is dropped


def request_reset(email: str, client_ip: str | None) -> None:
    db.session.add(
        PasswordResetRequest(email=normalise_email(email)[:254], requested_at=utcnow(), client_ip=client_ip)
    )
    db.session.commit()


def _reset_mail(settings: Settings, request: PasswordResetRequest, user: User) -> None:
    token = new_secret_token()
    now = utcnow()
    db.session.add(
        PasswordResetToken(
            user_id=user.id,
            request_id=request.id,
            token_hash=hash_secret_token(token),
            created_at=now,
            expires_at=now + timedelta(minutes=settings.password_reset_ttl_minutes),
        )
    )
    school = db.session.get(School, user.school_id) if user.school_id else None
    mail.queue_email(
        settings,
        MailKind.PASSWORD_RESET,
        f"password_reset:{request.id}",
        mail.Recipient(user.email, user.id),
        user.school_id,
        school=school.name if school else "Homeroom",
        full_name=user.full_name,
        reset_url=f"{settings.app_base_url}/reset-password?token={token}",
        minutes=settings.password_reset_ttl_minutes,
    )
    audit.record(
        None,
        "auth.password_reset_requested",
        resource=user,
        resource_type="user",
        school_id=user.school_id,
        changes={"request_id": request.id, "client_ip": request.client_ip},
    )


def process_reset_requests(settings: Settings, limit: int = 50) -> int:
    """Turn waiting requests into tokens and emails (for active accounts only); how many."""
    statement = (
        select(PasswordResetRequest)
        .where(PasswordResetRequest.processed_at.is_(None))
        .order_by(PasswordResetRequest.requested_at)
        .limit(limit)
    )
    if db.session.get_bind().dialect.name == "postgresql":
        statement = statement.with_for_update(skip_locked=True)
    requests = list(db.session.scalars(statement))
    now = utcnow()
    for request in requests:
        request.processed_at = now
        if request.requested_at < now - STALE_REQUEST:
            continue
        user = db.session.scalar(select(User).where(User.email == request.email, User.is_active.is_(True)))
        if user is not None:
            _reset_mail(settings, request, user)
    db.session.commit()
    return len(requests)


def confirm_reset(token: str, password: str) -> None:
    now = utcnow()
    row = db.session.execute(
        select(PasswordResetToken, User)
        .join(User, User.id == PasswordResetToken.user_id)
        .where(PasswordResetToken.token_hash == hash_secret_token(token))
        .with_for_update(of=PasswordResetToken)
    ).one_or_none()
    if row is None or row[0].used_at is not None or row[0].expires_at <= now or not row[1].is_active:
        raise BadRequest(NOT_USABLE)
    reset, user = row
    require_strong(password, words_about_user(user))
    db.session.execute(  # this link and any other the user was sent
        update(PasswordResetToken)
        .where(PasswordResetToken.user_id == user.id, PasswordResetToken.used_at.is_(None))
        .values(used_at=now)
    )
    user.password_hash = password_hasher().hash(password)
    user.password_changed_at = now
    user.failed_login_count = 0
    revoked = revoke_user_sessions(user.id, "password_reset")
    audit.record(
        acting_user(user),
        "auth.password_reset",
        resource=user,
        resource_type="user",
        school_id=user.school_id,
        changes={"sessions_ended": len(revoked), "token_id": reset.id},
    )
    db.session.commit()
    forget_sessions(revoked)
