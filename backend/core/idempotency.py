"""`Idempotency-Key` for requests that must not happen twice (creating a payment).

The first request with a key runs, and its response is stored with the key in the same
transaction. A repeat with the same key and body gets that response again (header
`Idempotent-Replayed: true`); the same key with another body is refused with 422. Of concurrent
duplicates, the first to claim the key wins: the others wait on the unique key and replay its
response.
"""

from __future__ import annotations

import hashlib
import re
import uuid
from collections.abc import Callable
from datetime import datetime
from functools import wraps
from typing import Any, TypeVar

from flask import Response, current_app, json, request
from sqlalchemy import JSON, Integer, String, UniqueConstraint, select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Mapped, mapped_column

from backend.core import metrics
from backend.core.context import request_context
from backend.core.errors import BadRequest, Conflict, ValidationFailed
from backend.core.extensions import db
from backend.core.markers import route_spec
from backend.core.models import Base, TenantOwned, utcnow

F = TypeVar("F", bound=Callable[..., Any])

HEADER = "Idempotency-Key"
_VALID_KEY = re.compile(r"[\x21-\x7e]{1,255}")


class IdempotencyKey(TenantOwned, Base):
    """A request made with an `Idempotency-Key`: its fingerprint and the response it got."""

    __tablename__ = "idempotency_keys"
    __table_args__ = (UniqueConstraint("school_id", "key"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    key: Mapped[str] = mapped_column(String(255))
    fingerprint: Mapped[str] = mapped_column(String(64))
    status_code: Mapped[int] = mapped_column(Integer)
    response: Mapped[dict[str, Any]] = mapped_column(JSON)
    created_at: Mapped[datetime]


def _key() -> str:
    key = request.headers.get(HEADER, "")
    if not _VALID_KEY.fullmatch(key):
        raise BadRequest(f"An {HEADER} header (1 to 255 visible ASCII characters) is required.")
    return key


def _fingerprint() -> str:
    digest = hashlib.sha256(f"{request.method} {request.path}\n".encode())
    digest.update(request.get_data(cache=True))
    return digest.hexdigest()


def _stored_response(stored: IdempotencyKey) -> Response:
    return current_app.response_class(
        json.dumps(stored.response),
        status=stored.status_code,
        mimetype="application/json",
        headers={"Idempotent-Replayed": "true"},
    )


def _replay(school_id: uuid.UUID, key: str, fingerprint: str) -> Response | None:
    stored = db.session.scalar(
        select(IdempotencyKey).where(IdempotencyKey.school_id == school_id, IdempotencyKey.key == key)
    )
    if stored is None:
        return None
    if stored.fingerprint != fingerprint:
        raise ValidationFailed.on(
            f"header.{HEADER}", "This key was used for a different request.", "idempotency_key_reused"
        )
    metrics.IDEMPOTENT_REPLAYS.inc()
    return _stored_response(stored)


def _school() -> uuid.UUID:
    """The caller's school, set by authentication: keys are per school."""
    caller = request_context().caller
    school_id = caller.school_id if caller is not None else None
    if school_id is None:
        raise TypeError("@idempotent routes must require authentication")
    return school_id


def idempotent(view: F) -> F:
    """Run the view once per `Idempotency-Key`; repeats get its stored response.

    Put it above `@api`: the view must not commit; its response is stored with the key and both
    commit together. The key is claimed before the view runs: a concurrent duplicate blocks on
    the unique key until the first request commits, then replays its response (it never runs
    the view).
    """

    @wraps(view)
    def once(*args: Any, **kwargs: Any) -> Response:
        school_id, key, fingerprint = _school(), _key(), _fingerprint()
        if (replayed := _replay(school_id, key, fingerprint)) is not None:
            return replayed
        claim = IdempotencyKey(
            school_id=school_id,
            key=key,
            fingerprint=fingerprint,
            status_code=0,
            response={},
            created_at=utcnow(),
        )
        db.session.add(claim)
        try:
            db.session.flush()
        except IntegrityError:  # the same key was claimed by a request that has now committed
            db.session.rollback()
            if (replayed := _replay(school_id, key, fingerprint)) is not None:
                return replayed
            raise Conflict("A request with this Idempotency-Key is still in progress.") from None
        response: Response = view(*args, **kwargs)
        claim.status_code, claim.response = response.status_code, json.loads(response.get_data())
        db.session.commit()
        return response

    route_spec(once).idempotent = True
    return once  # type: ignore[return-value]  # wraps() keeps the view's signature
