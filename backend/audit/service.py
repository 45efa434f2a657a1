"""Recording audit events (in the caller's transaction), verifying chains, purging, searching.

Each event's hash covers its content and the previous event's hash in the same chain (one chain
per school). Appending locks the chain's head row (an UPDATE), so concurrent appenders to one
school line up instead of forking the chain. `record` only notes the event; the transaction's
events are appended when it commits, after its own changes have been flushed (`_append_pending`),
so a school's writers wait for each other only for the append and the COMMIT, not for the rest of
each other's requests (issue 30: with the append at `record`, up to 6 of 8 server threads sat
waiting on one school's head row under load).
"""

from __future__ import annotations

import hashlib
import json
import re
import uuid
from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from decimal import Decimal
from enum import Enum
from typing import TYPE_CHECKING, Any, Protocol, cast

from flask import has_request_context, request
from sqlalchemy import CursorResult, delete, func, insert, select, update
from sqlalchemy import event as orm_events
from sqlalchemy.orm import Session, SessionTransaction

from backend.audit.models import PLATFORM_CHAIN, AuditChainHead, AuditEvent, AuditPolicy
from backend.audit.schemas import AuditQuery
from backend.core import metrics
from backend.core.context import current_request_id
from backend.core.extensions import db
from backend.core.models import utcnow
from backend.core.pagination import Page, keyset, page_of

if TYPE_CHECKING:
    from backend.tenancy import AuthContext

GENESIS = "0" * 64
REDACTED = "[redacted]"
# Keys whose values never enter the trail: credentials, and health data.
SENSITIVE = re.compile(
    r"password|token|secret|hash|api_?key|health|allerg|medic|condition|blood|physician|diagnos|notes", re.I
)
HASHED_FIELDS = (
    "id",
    "chain_id",
    "seq",
    "occurred_at",
    "school_id",
    "actor_id",
    "actor_role",
    "action",
    "resource_type",
    "resource_id",
    "request_id",
    "client_ip",
    "user_agent",
    "changes",
)


def _plain(value: Any) -> Any:
    """A JSON-friendly form that is the same every time the value is read back."""
    if isinstance(value, datetime):
        return value.isoformat()
    if isinstance(value, date | uuid.UUID | Decimal):
        return str(value)
    if isinstance(value, Enum):
        return value.value
    if isinstance(value, Mapping):
        return {str(k): REDACTED if SENSITIVE.search(str(k)) else _plain(v) for k, v in value.items()}
    if isinstance(value, list | tuple | set):
        return [_plain(v) for v in value]
    return value


def diff(before: Mapping[str, Any], after: Mapping[str, Any]) -> dict[str, Any]:
    """`{field: {"before": ..., "after": ...}}` for the fields that changed, sensitive ones redacted."""
    changed = {key for key in after if before.get(key) != after.get(key)}
    return {
        key: {"before": _plain(before.get(key)), "after": _plain(after.get(key))}
        if not SENSITIVE.search(key)
        else REDACTED
        for key in sorted(changed)
    }


def snapshot(obj: Any, fields: tuple[str, ...]) -> dict[str, Any]:
    return {name: getattr(obj, name) for name in fields}


def compute_hash(fields: Mapping[str, Any], prev_hash: str) -> str:
    canonical = json.dumps(
        {k: _plain(fields[k]) for k in HASHED_FIELDS}, sort_keys=True, separators=(",", ":")
    )
    return hashlib.sha256(f"{prev_hash}\n{canonical}".encode()).hexdigest()


def _advance_head(session: Session, chain_id: uuid.UUID, count: int) -> tuple[int, str]:
    """Reserve `count` places at the end of the chain (locking its head until the commit): the first
    one's seq, and the hash it follows."""
    row = session.execute(
        update(AuditChainHead)
        .where(AuditChainHead.chain_id == chain_id)
        .values(seq=AuditChainHead.seq + count)
        .returning(AuditChainHead.seq, AuditChainHead.last_hash)
    ).one_or_none()
    if row is None:  # the chain's first event (a school's head is normally made with the school)
        session.execute(insert(AuditChainHead).values(chain_id=chain_id, seq=count, last_hash=GENESIS))
        return 1, GENESIS
    return row.seq - count + 1, row.last_hash


def start_chain(school_id: uuid.UUID) -> None:
    """Create a school's chain head, in the transaction that creates the school."""
    db.session.execute(insert(AuditChainHead).values(chain_id=school_id, seq=0, last_hash=GENESIS))


class Actor(Protocol):
    """Who acts: an `AuthContext`, or an `ActingUser` where no request is signed in (sign-in itself)."""

    @property
    def user_id(self) -> uuid.UUID: ...
    @property
    def role(self) -> str: ...
    @property
    def school_id(self) -> uuid.UUID | None: ...


@dataclass(frozen=True)
class ActingUser:
    user_id: uuid.UUID
    role: str
    school_id: uuid.UUID | None


def _request_context() -> dict[str, Any]:
    """Where the event comes from (not who): the request id, client IP and user agent, if any."""
    if not has_request_context():
        return {}
    return {
        "request_id": current_request_id(),
        "client_ip": request.remote_addr,
        "user_agent": (request.user_agent.string or "")[:200] or None,
    }


def record(
    actor: Actor | None,
    action: str,
    *,
    resource_type: str | None = None,
    resource: Any = None,
    resource_id: Any = None,
    changes: Mapping[str, Any] | None = None,
    school_id: uuid.UUID | None = None,
) -> None:
    """Add an event to the current transaction: it commits, or rolls back, with the change (it is
    appended to its chain at the commit).

    `actor` is who acts (None: the system, a command); the event goes on the chain of `school_id`,
    by default the actor's school, else the platform chain. Request id, IP and user agent come
    from the request, if there is one. Sensitive keys in `changes` are redacted.
    """
    if resource is not None:
        if resource.id is None:  # a new row: give it its id now rather than flush before the commit
            resource.id = uuid.uuid4()
        resource_id = resource.id
    fields: dict[str, Any] = {
        **_request_context(),
        "actor_id": actor.user_id if actor else None,
        "actor_role": str(actor.role) if actor else None,
        "school_id": school_id or (actor.school_id if actor else None),
    }
    chain_id = fields["school_id"] or PLATFORM_CHAIN
    entry = {
        "chain_id": chain_id,
        "school_id": fields.get("school_id"),
        "actor_id": fields.get("actor_id"),
        "actor_role": fields.get("actor_role"),
        "action": action,
        "resource_type": resource_type,
        "resource_id": None if resource_id is None else str(resource_id),
        "request_id": fields.get("request_id"),
        "client_ip": fields.get("client_ip"),
        "user_agent": fields.get("user_agent"),
        "changes": _plain(dict(changes)) if changes else None,
    }
    session = db.session()
    if not session.in_transaction():
        session.begin()  # so that a rollback or close before any statement takes the event too
    session.info.setdefault(_PENDING, []).append(entry)


_PENDING = "homeroom.audit_pending"  # the transaction's events, in the order they were recorded


@orm_events.listens_for(db.session, "before_commit")
def _append_pending(session: Session) -> None:
    """At the commit: the transaction's own changes first (a conflict raises here, before any head
    is locked), then each chain's events in one reservation, chains in a fixed order (two
    transactions never wait on each other's heads the other way round)."""
    pending: list[dict[str, Any]] = session.info.get(_PENDING, [])
    if not pending:
        return
    session.flush()
    with session.no_autoflush:
        for chain_id in sorted({e["chain_id"] for e in pending}, key=str):
            _append(session, chain_id, [e for e in pending if e["chain_id"] == chain_id])
    session.info.pop(_PENDING, None)  # appended (a failure leaves them for the rollback to drop)


@orm_events.listens_for(db.session, "after_transaction_end")
def _forget_pending(session: Session, transaction: SessionTransaction) -> None:
    """A transaction that ends without committing (a rollback, a retried conflict) takes its
    events with it, as it takes its changes."""
    if transaction.parent is None:
        session.info.pop(_PENDING, None)


def _append(session: Session, chain_id: uuid.UUID, events: list[dict[str, Any]]) -> None:
    seq, prev_hash = _advance_head(session, chain_id, len(events))
    occurred_at = utcnow()  # under the head's lock: time and seq rise together (purge relies on it)
    for offset, fields in enumerate(events):
        fields = {**fields, "id": uuid.uuid4(), "seq": seq + offset, "occurred_at": occurred_at}
        digest = compute_hash(fields, prev_hash)
        session.add(AuditEvent(**fields, prev_hash=prev_hash, hash=digest))
        prev_hash = digest
        metrics.AUDIT_EVENTS.inc()
    session.execute(
        update(AuditChainHead).where(AuditChainHead.chain_id == chain_id).values(last_hash=prev_hash)
    )


# --- verification and retention -------------------------------------------------------------------


@dataclass(frozen=True)
class BrokenLink:
    chain_id: uuid.UUID
    seq: int
    event_id: uuid.UUID | None
    reason: str


def _chain(chain_id: uuid.UUID) -> Iterator[AuditEvent]:
    yield from db.session.scalars(
        select(AuditEvent)
        .where(AuditEvent.chain_id == chain_id)
        .order_by(AuditEvent.seq)
        .execution_options(yield_per=1000)
    )


def verify_chain(chain_id: uuid.UUID) -> tuple[int, BrokenLink | None]:
    """Walk one chain in order; the number of events checked and the first broken link, if any.

    The head says which events must be there: `purged_through + 1` to `seq`, the last one hashing to
    `last_hash`. So events missing at the start (beyond a purge), in the middle, at the end, or the
    whole chain (a wipe) are all reported. After a purge the oldest kept event's `prev_hash` is
    taken as given."""
    head = db.session.get(AuditChainHead, chain_id)
    expected = head.purged_through + 1 if head is not None else 1
    previous: AuditEvent | None = None
    checked = 0
    for event in _chain(chain_id):
        fields = {name: getattr(event, name) for name in HASHED_FIELDS}
        if previous is None and event.seq != expected:
            return checked, BrokenLink(
                chain_id, expected, None, f"events {expected} to {event.seq - 1} are missing"
            )
        if previous is not None and (event.seq != previous.seq + 1 or event.prev_hash != previous.hash):
            return checked, BrokenLink(chain_id, event.seq, event.id, "does not follow the previous event")
        if compute_hash(fields, event.prev_hash) != event.hash:
            return checked, BrokenLink(chain_id, event.seq, event.id, "content does not match its hash")
        previous, checked = event, checked + 1
    if head is None:
        return checked, None
    last_seq = previous.seq if previous is not None else head.purged_through
    if last_seq < head.seq:
        reason = f"events {last_seq + 1} to {head.seq} are missing: the head records {head.seq}"
        return checked, BrokenLink(chain_id, last_seq + 1, None, reason)
    if previous is not None and (head.seq, head.last_hash) != (previous.seq, previous.hash):
        return checked, BrokenLink(chain_id, head.seq, None, "the chain head does not match the last event")
    return checked, None


def chain_ids() -> list[uuid.UUID]:
    return list(db.session.scalars(select(AuditChainHead.chain_id).order_by(AuditChainHead.chain_id)))


def purge(retention_days: int) -> int:
    """Delete events older than the retention (never under 90 days; the database refuses that too)."""
    days = max(90, retention_days)
    db.session.execute(update(AuditPolicy).where(AuditPolicy.id == 1).values(retention_days=days))
    cutoff = utcnow() - timedelta(days=days)
    purged = select(AuditEvent.chain_id, func.max(AuditEvent.seq)).where(AuditEvent.occurred_at < cutoff)
    for chain_id, last_seq in db.session.execute(purged.group_by(AuditEvent.chain_id)):
        db.session.execute(
            update(AuditChainHead).where(AuditChainHead.chain_id == chain_id).values(purged_through=last_seq)
        )
    result = db.session.execute(delete(AuditEvent).where(AuditEvent.occurred_at < cutoff))
    deleted = cast(CursorResult[Any], result).rowcount  # a DELETE's result is a cursor result
    record(None, "audit.purge", changes={"deleted": deleted, "retention_days": days, "before": cutoff})
    db.session.commit()
    return deleted


# --- search -----------------------------------------------------------------------------------------


def search(auth: AuthContext, query: AuditQuery) -> Page[AuditEvent]:
    """The school's events, newest first, filtered by actor, action, resource and time."""
    statement = auth.scoped(AuditEvent)
    if query.actor_id is not None:
        statement = statement.where(AuditEvent.actor_id == query.actor_id)
    if query.action:
        action = AuditEvent.action
        statement = statement.where(
            action.startswith(query.action) if query.action.endswith(".") else action == query.action
        )
    if query.resource_type:
        statement = statement.where(AuditEvent.resource_type == query.resource_type)
    if query.resource_id:
        statement = statement.where(AuditEvent.resource_id == query.resource_id)
    if query.from_ is not None:
        statement = statement.where(AuditEvent.occurred_at >= query.from_)
    if query.to is not None:
        statement = statement.where(AuditEvent.occurred_at < query.to)
    order = (AuditEvent.occurred_at, AuditEvent.id)
    rows = db.session.scalars(keyset(statement, order, query, descending=True)).all()
    return page_of(rows, query, lambda event: [event.occurred_at, event.id])
