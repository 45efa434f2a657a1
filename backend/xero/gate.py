"""Calls to one Xero organisation, within its limits: XERO_RATE_LIMIT per organisation (a moving
window in the shared Redis when REDIS_URL is set, else per process), Xero's own 429 Retry-After
shared through the connection row (`paused_until`), and one forced refresh when an access token
is refused before its time."""

from __future__ import annotations

import functools
import time
from datetime import timedelta
from typing import Any

from limits import parse_many
from limits.storage import storage_from_string
from limits.strategies import MovingWindowRateLimiter

from backend.config import Settings
from backend.core.extensions import db
from backend.core.models import utcnow
from backend.jobs import Defer
from backend.xero import client, tokens
from backend.xero.models import XeroConnection


@functools.cache
def _limiter(storage_url: str) -> MovingWindowRateLimiter:
    return MovingWindowRateLimiter(storage_from_string(storage_url))


def _take_slot(settings: Settings, tenant_id: str) -> None:
    """One call's place in the organisation's windows, or `Defer` until one frees up."""
    limiter = _limiter(settings.redis_url or "memory://")
    for item in parse_many(settings.xero_rate_limit):
        if not limiter.hit(item, "xero", tenant_id):
            reset = limiter.get_window_stats(item, "xero", tenant_id).reset_time
            raise Defer(max(1.0, reset - time.time()), "Homeroom's own limit of calls to Xero")


class Organisation:
    """The school's Xero organisation, for one job: each call counted, paced and authorised."""

    def __init__(self, settings: Settings, connection: XeroConnection) -> None:
        self.settings, self.connection = settings, connection

    @classmethod
    def of(cls, settings: Settings, school_id: Any) -> Organisation:
        return cls(settings, tokens.usable(settings, school_id))

    def call(self, method: str, path: str, body: Any = None, *, idempotency_key: str | None = None) -> Any:
        try:
            return self._once(method, path, body, idempotency_key)
        except client.Unauthorized:
            # Xero refused a token we thought good (revoked, or clocks apart): refresh once.
            self.connection.access_expires_at = utcnow()
            db.session.commit()
            self.connection = tokens.refresh(self.settings, self.connection.school_id)
            return self._once(method, path, body, idempotency_key)

    def _once(self, method: str, path: str, body: Any, idempotency_key: str | None) -> Any:
        _take_slot(self.settings, str(self.connection.tenant_id))
        api = client.Api(self.settings, str(self.connection.access_token), self.connection.tenant_id)
        try:
            return api.call(method, path, body, idempotency_key=idempotency_key)
        except client.RateLimited as limited:
            self.connection.paused_until = utcnow() + timedelta(seconds=limited.retry_after)
            db.session.commit()  # every runner sees the pause
            raise Defer(limited.retry_after, "Xero answered 429") from None
