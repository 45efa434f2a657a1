"""The outbox's figures on /metrics: pending messages by status and the oldest due one's wait."""

from __future__ import annotations

from prometheus_client.core import GaugeMetricFamily

from backend.core.models import utcnow
from backend.mail.outbox import PENDING, OutboxStatus, status


def _families(pending: OutboxStatus | None) -> list[GaugeMetricFamily]:
    mail = GaugeMetricFamily(
        "homeroom_outbox_messages", "Email waiting or dead in the outbox, by status.", labels=["status"]
    )
    for state in PENDING:
        mail.add_metric([state], sum(pending.counts.get(state, {}).values()) if pending else 0)
    wait = GaugeMetricFamily(
        "homeroom_outbox_oldest_due_seconds", "How long the oldest deliverable email has waited (0: none)."
    )
    oldest = pending.oldest_due if pending else None
    wait.add_metric([], (utcnow() - oldest).total_seconds() if oldest else 0.0)
    return [mail, wait]


def read() -> list[GaugeMetricFamily]:
    return _families(status(pending_only=True))


def fallback() -> list[GaugeMetricFamily]:
    return _families(None)
