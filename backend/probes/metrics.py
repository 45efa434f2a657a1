"""GET /metrics: Prometheus figures, for a scraper holding METRICS_TOKEN; and the figures read
from the database at scrape time (the last good backup, open schema issues)."""

from __future__ import annotations

from collections.abc import Iterator

from flask import Flask, Response, current_app
from prometheus_client.core import GaugeMetricFamily
from prometheus_client.registry import Collector
from sqlalchemy.exc import SQLAlchemyError

from backend.backups.service import last_good_backup_at
from backend.config import current_settings
from backend.core.api import api
from backend.core.markers import probe
from backend.core.metrics import check_metrics_token, metrics_response
from backend.core.models import utcnow
from backend.doctor.service import open_issue_counts, severity_counts
from backend.extensions import db
from backend.mail.outbox import PENDING
from backend.mail.outbox import status as outbox_status
from backend.probes import bp


class StateCollector(Collector):
    """The last successful backup's time, the doctor's open issues by severity, and the outbox's
    pending messages (queued, sending, dead) and the oldest due one's wait."""

    def __init__(self, app: Flask) -> None:
        self.app = app

    def collect(self) -> Iterator[GaugeMetricFamily]:
        backup = GaugeMetricFamily(
            "homeroom_backup_last_success_timestamp_seconds",
            "When the last successful backup finished (Unix time; 0 when there is none).",
        )
        schema = GaugeMetricFamily(
            "homeroom_schema_issues_open",
            "Issues in the schema doctor's last scan, by severity.",
            labels=["severity"],
        )
        mail = GaugeMetricFamily(
            "homeroom_outbox_messages", "Email waiting or dead in the outbox, by status.", labels=["status"]
        )
        mail_wait = GaugeMetricFamily(
            "homeroom_outbox_oldest_due_seconds",
            "How long the oldest deliverable email has waited (0: none).",
        )
        counts = severity_counts(())
        last, pending = None, None
        with self.app.app_context():
            try:
                last = last_good_backup_at()
                counts = open_issue_counts()
                pending = outbox_status(pending_only=True)
            except SQLAlchemyError:  # the database is down: the request metrics still answer
                db.session.rollback()
            finally:
                db.session.remove()
        backup.add_metric([], last.timestamp() if last else 0.0)
        yield backup
        for severity, count in sorted(counts.items()):
            schema.add_metric([severity], count)
        yield schema
        for state in PENDING:
            mail.add_metric([state], sum(pending.counts.get(state, {}).values()) if pending else 0)
        yield mail
        oldest = pending.oldest_due if pending else None
        mail_wait.add_metric([], (utcnow() - oldest).total_seconds() if oldest else 0.0)
        yield mail_wait


@bp.get("/metrics")
@probe  # no rate limit, no access-log line; the token is checked below
@api(media_type="text/plain", problems=(401, 404))
def metrics() -> Response:
    """Prometheus metrics (Authorization: Bearer METRICS_TOKEN)."""
    check_metrics_token(current_settings())
    return metrics_response(StateCollector(current_app._get_current_object()))  # type: ignore[attr-defined]
