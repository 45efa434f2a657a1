"""GET /api/audit-events: the school's trail, for its admins."""

from __future__ import annotations

from backend.audit import bp, service
from backend.audit.models import AuditEvent
from backend.audit.schemas import AuditEventOut, AuditQuery
from backend.core.api import api
from backend.core.pagination import Page
from backend.tenancy import current_auth, requires


@bp.get("/audit-events")
@requires("audit.read")
@api(query=AuditQuery, response=Page[AuditEventOut])
def list_audit_events(query: AuditQuery) -> Page[AuditEvent]:
    """The school's audit events, newest first, filtered by actor, action, resource and time."""
    return service.search(current_auth(), query)
