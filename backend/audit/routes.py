"""GET /api/audit-events: the school's trail, for its admins."""

from __future__ import annotations

from flask import Response
from sqlalchemy import Select

from backend.audit import bp
from backend.audit.models import AuditEvent
from backend.audit.schemas import AuditEventOut, AuditQuery
from backend.auth.access import requires, scoped
from backend.core.api import Page, api
from backend.core.pagination import keyset, page_of
from backend.core.responses import page_response
from backend.extensions import db


def _filtered(query: AuditQuery) -> Select[tuple[AuditEvent]]:
    statement = scoped(AuditEvent)
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
    return statement


@bp.get("/audit-events")
@requires("audit.read")
@api(query=AuditQuery, response=Page[AuditEventOut])
def list_audit_events(query: AuditQuery) -> Response:
    """The school's audit events, newest first, filtered by actor, action, resource and time."""
    rows = db.session.scalars(
        keyset(_filtered(query), (AuditEvent.occurred_at, AuditEvent.id), query, descending=True)
    ).all()
    events, next_cursor = page_of(rows, query, lambda e: [e.occurred_at, e.id])
    return page_response(events, next_cursor, AuditEventOut)
