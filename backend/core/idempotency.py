"""`Idempotency-Key`: a create that a client retries happens once.

Every route that creates something takes the header: `@idempotent` makes it optional (a request
without one runs as it always did), `@idempotent_required` refuses a request without one
(payments). The first request with a key runs, and its response (status, JSON body, and headers
such as `Location`) is stored with the key in the same transaction as the change: while the view
runs, its services' commits only flush, so the change, the key and the response commit once,
together, or not at all. A repeat with the same key and the same request (method, path, query and
body) gets that response again (header `Idempotent-Replayed: true`); the same key with another
request is refused with 422. Keys belong to the caller's school. Of concurrent duplicates, the
first to claim the key wins: the others wait on the unique key and replay its response.
"""

from __future__ import annotations

import hashlib
import json
import re
import uuid
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from datetime import datetime
from functools import wraps
from typing import Any, TypeVar

from flask import Response, current_app, request
from sqlalchemy import JSON, Integer, String, UniqueConstraint, select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Mapped, mapped_column

from backend.core import metrics
from backend.core.context import request_context
from backend.core.errors import BadRequest, Conflict, ValidationFailed, is_unique_violation
from backend.core.extensions import db
from backend.core.markers import route_spec
from backend.core.models import Base, TenantOwned, utcnow

F = TypeVar("F", bound=Callable[..., Any])

HEADER = "Idempotency-Key"
REPLAYED_HEADER = "Idempotent-Replayed"
_VALID_KEY = re.compile(r"[\x21-\x7e]{1,255}")
_KEY_REQUIRED = "homeroom_idempotency_key_required"  # in the view's __dict__, which wraps() carries
# Headers that describe the stored body, or that must never be sent twice; the rest (Location) replay.
_NOT_REPLAYED = frozenset({"content-type", "content-length", "set-cookie"})
_ENVELOPE = frozenset({"body", "headers"})


class IdempotencyKey(TenantOwned, Base):
    """A request made with an `Idempotency-Key`: its fingerprint and the response it got.

    `response` is `{"body": <the JSON body or null>, "headers": {name: value}}`; rows written before
    headers were kept (payments) hold the body alone."""

    __tablename__ = "idempotency_keys"
    __table_args__ = (UniqueConstraint("school_id", "key"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    key: Mapped[str] = mapped_column(String(255))
    fingerprint: Mapped[str] = mapped_column(String(64))
    status_code: Mapped[int] = mapped_column(Integer)
    response: Mapped[dict[str, Any]] = mapped_column(JSON)
    created_at: Mapped[datetime]


def key_required(view: Callable[..., Any] | None) -> bool:
    """Whether the view refuses a request without a key (`@idempotent_required`)."""
    return view is not None and bool(vars(view).get(_KEY_REQUIRED, False))


def _key(required: bool) -> str | None:
    key = request.headers.get(HEADER)
    if key is None and not required:
        return None
    if key is None or not _VALID_KEY.fullmatch(key):
        need = "is required" if required else "must be"
        raise BadRequest(f"An {HEADER} header {need} (1 to 255 visible ASCII characters).")
    return key


def _fingerprint() -> str:
    """The request a key names: method, path, query (a dry run is another request) and body."""
    target = f"{request.method} {request.path}".encode()
    if request.query_string:
        target += b"?" + request.query_string
    digest = hashlib.sha256(target + b"\n")
    digest.update(request.get_data(cache=True))
    return digest.hexdigest()


def _school() -> uuid.UUID:
    """The caller's school, set by authentication: keys are per school."""
    caller = request_context().caller
    school_id = caller.school_id if caller is not None else None
    if school_id is None:
        raise TypeError("@idempotent routes must require authentication by a school's user")
    return school_id


def _kept(response: Response) -> dict[str, Any]:
    """What is stored of the view's response: its JSON body (None when empty) and its headers."""
    if response.is_streamed or response.direct_passthrough:
        raise TypeError("@idempotent routes must answer with JSON, not a stream")
    data = response.get_data()
    if data and not response.is_json:
        raise TypeError(f"@idempotent routes must answer with JSON, not {response.mimetype}")
    headers = {name: value for name, value in response.headers.items() if name.lower() not in _NOT_REPLAYED}
    return {"body": json.loads(data) if data else None, "headers": headers}


def _replayed(stored: IdempotencyKey) -> Response:
    kept = stored.response
    body, headers = (kept["body"], kept["headers"]) if kept.keys() == _ENVELOPE else (kept, {})
    response = current_app.response_class(status=stored.status_code, headers=headers)
    if body is not None:
        # The stored JSON keeps the original's key order; written compact, as @api writes it.
        response.set_data(json.dumps(body, separators=(",", ":"), ensure_ascii=False))
        response.mimetype = "application/json"
    response.headers[REPLAYED_HEADER] = "true"
    return response


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
    return _replayed(stored)


def _lost_race(school_id: uuid.UUID, key: str, fingerprint: str) -> Response:
    """Another request committed this key first (this one waited on it): replay its response."""
    db.session.rollback()
    replayed = _replay(school_id, key, fingerprint)
    if replayed is None:
        raise Conflict(f"A request with this {HEADER} is still in progress.")
    return replayed


@contextmanager
def _one_transaction() -> Iterator[None]:
    """While the view runs, a commit only flushes (constraints are still checked, a conflict still
    raises): services commit for themselves, but here their change must commit with the key and
    the response, in one transaction, after the view has answered."""
    session = db.session()
    vars(session)["commit"] = session.flush
    try:
        yield
    finally:
        vars(session).pop("commit", None)


def _run_once(view: Callable[..., Response], required: bool, args: Any, kwargs: Any) -> Response:
    school_id, key = _school(), _key(required)
    if key is None:
        return view(*args, **kwargs)
    fingerprint = _fingerprint()
    if (replayed := _replay(school_id, key, fingerprint)) is not None:
        return replayed
    claim = IdempotencyKey(
        school_id=school_id, key=key, fingerprint=fingerprint, status_code=0, response={}, created_at=utcnow()
    )
    db.session.add(claim)
    try:
        db.session.flush()
    except IntegrityError:  # the same key was claimed by a request that has now committed
        return _lost_race(school_id, key, fingerprint)
    with _one_transaction():
        response = view(*args, **kwargs)
    claim.status_code, claim.response = response.status_code, _kept(response)
    db.session.add(claim)  # again, in case the view rolled back (and retried): the claim went with it
    try:
        db.session.commit()
    except IntegrityError as error:
        if not is_unique_violation(error):
            raise
        return _lost_race(school_id, key, fingerprint)
    return response


def _idempotent(view: F, *, required: bool) -> F:
    @wraps(view)
    def once(*args: Any, **kwargs: Any) -> Response:
        return _run_once(view, required, args, kwargs)

    route_spec(once).idempotent = True
    vars(once)[_KEY_REQUIRED] = required
    return once  # type: ignore[return-value]  # wraps() keeps the view's signature


def idempotent(view: F) -> F:
    """Run the view once per `Idempotency-Key`, when the request has one; repeats get its stored
    response. Without a key the view runs as usual.

    Put it below `@requires` (keys are per school: the caller must be a school's user) and above
    `@api`. The view must answer with JSON (or nothing). The key is claimed before the view runs:
    a concurrent duplicate blocks on the unique key until the first request commits, then replays
    its response (it never runs the view).
    """
    return _idempotent(view, required=False)


def idempotent_required(view: F) -> F:
    """`@idempotent`, and a request without an `Idempotency-Key` is a 400 (payments)."""
    return _idempotent(view, required=True)
