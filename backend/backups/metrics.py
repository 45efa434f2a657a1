"""The backups' figure on /metrics: when the last good backup finished."""

from __future__ import annotations

from datetime import datetime

from prometheus_client.core import GaugeMetricFamily

from backend.backups.runs import last_good_backup_at


def _family(last: datetime | None) -> list[GaugeMetricFamily]:
    gauge = GaugeMetricFamily(
        "homeroom_backup_last_success_timestamp_seconds",
        "When the last successful backup finished (Unix time; 0 when there is none).",
    )
    gauge.add_metric([], last.timestamp() if last else 0.0)
    return [gauge]


def read() -> list[GaugeMetricFamily]:
    return _family(last_good_backup_at())


def fallback() -> list[GaugeMetricFamily]:
    return _family(None)
