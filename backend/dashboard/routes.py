"""GET /api/parent/dashboard."""

from __future__ import annotations

from backend.core.api import api
from backend.dashboard import bp, service
from backend.dashboard.schemas import DashboardOut
from backend.tenancy import current_auth, requires


@bp.get("/parent/dashboard")
@requires("dashboard.parent")
@api(response=DashboardOut)
def parent_dashboard() -> DashboardOut:
    """Each linked child: today's attendance, this term's attendance rate, recent published grades."""
    return service.parent_dashboard(current_auth())
