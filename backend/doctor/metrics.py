"""The schema doctor's figures on /metrics: open issues of its last scan, by severity."""

from __future__ import annotations

from collections.abc import Mapping

from prometheus_client.core import GaugeMetricFamily

from backend.doctor.issues import severity_counts
from backend.doctor.service import open_issue_counts


def _family(counts: Mapping[str, int]) -> list[GaugeMetricFamily]:
    gauge = GaugeMetricFamily(
        "homeroom_schema_issues_open",
        "Issues in the schema doctor's last scan, by severity.",
        labels=["severity"],
    )
    for severity, count in sorted(counts.items()):
        gauge.add_metric([severity], count)
    return [gauge]


def read() -> list[GaugeMetricFamily]:
    return _family(open_issue_counts())


def fallback() -> list[GaugeMetricFamily]:
    return _family(severity_counts(()))
