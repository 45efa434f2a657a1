"""What operators and probes see of Xero: the `xero` component of /api/health, the connections
overview of the ops console, and the scheduled keep-alive of idle refresh tokens."""

from __future__ import annotations

import time
from datetime import timedelta
from typing import Any

from flask import Flask
from sqlalchemy import func, select

from backend import jobs
from backend.config import SETTINGS_EXTENSION, Settings
from backend.core.extensions import db
from backend.core.models import utcnow
from backend.schools import School
from backend.xero.models import ConnectionState, XeroConnection
from backend.xero.service import KINDS

KEEPALIVE_EVERY = 600.0  # seconds between two looks for idle refresh tokens, per runner


def check_xero(app: Flask) -> dict[str, Any]:
    """`not_configured` without the XERO_* settings; `degraded` when a school must reconnect or a
    sync job is dead; else `ok`; with the connections by state and the dead jobs."""
    settings: Settings = app.extensions[SETTINGS_EXTENSION]
    if settings.xero_missing:
        return {"status": "not_configured", "missing_settings": settings.xero_missing}
    rows = db.session.execute(select(XeroConnection.state, func.count()).group_by(XeroConnection.state))
    states: dict[str, int] = {str(s): int(n) for s, n in rows}
    dead = sum(n for kind, n in jobs.counts().get("dead", {}).items() if kind in KINDS)
    figures = {
        "connected": states.get(ConnectionState.CONNECTED.value, 0),
        "needs_reconnect": states.get(ConnectionState.NEEDS_RECONNECT.value, 0),
        "dead_jobs": dead,
    }
    return {"status": "degraded" if figures["needs_reconnect"] or dead else "ok", **figures}


def overview() -> list[dict[str, Any]]:
    rows = db.session.execute(
        select(School.name, XeroConnection)
        .join(School, School.id == XeroConnection.school_id)
        .order_by(School.name)
    ).all()
    return [
        {
            "school": name,
            "school_id": str(connection.school_id),
            "state": connection.state,
            "organisation": connection.tenant_name,
            "last_sync_at": connection.last_sync_at.isoformat() if connection.last_sync_at else None,
            "last_error": connection.last_error,
        }
        for name, connection in rows
    ]


class KeepAlive:
    """Every KEEPALIVE_EVERY seconds (per runner), a job per connection whose refresh token has not
    been used for XERO_REFRESH_IDLE_DAYS; the dedup key names the token's issue, so several
    runners queue one job between them."""

    def __init__(self) -> None:
        self.next_look = 0.0

    def due(self, settings: Settings) -> int:
        if settings.xero_missing or time.monotonic() < self.next_look:
            return 0
        self.next_look = time.monotonic() + KEEPALIVE_EVERY
        idle_since = utcnow() - timedelta(days=settings.xero_refresh_idle_days)
        idle = db.session.execute(
            select(XeroConnection.school_id, XeroConnection.id, XeroConnection.refreshed_at).where(
                XeroConnection.state == ConnectionState.CONNECTED.value,
                XeroConnection.refreshed_at < idle_since,
            )
        ).all()
        queued = 0
        for school_id, connection_id, refreshed_at in idle:
            key = f"xero.keepalive:{connection_id}:{refreshed_at}"
            queued += jobs.enqueue("xero.keepalive", {}, dedup_key=key, school_id=school_id) is not None
        db.session.commit()
        return queued
