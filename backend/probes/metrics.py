"""The figures features register to be read from the database at scrape time (the last good
backup, open schema issues, the outbox), collected when Prometheus scrapes GET /metrics."""

from __future__ import annotations

import time
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass

from flask import Flask
from prometheus_client.core import GaugeMetricFamily
from prometheus_client.registry import Collector
from sqlalchemy.exc import SQLAlchemyError

from backend.config import SETTINGS_EXTENSION
from backend.core.context import RowScope, deadline_at
from backend.core.db import running_under
from backend.core.extensions import db

StateFamilies = Callable[[], Iterable[GaugeMetricFamily]]
_STATE_METRICS = "homeroom.state_metrics"
_METRICS = RowScope(platform="metrics")


@dataclass(frozen=True)
class StateMetric:
    """Figures a feature reads from the database at scrape time; `fallback` is what it reports
    while the database cannot be read (the request metrics still answer)."""

    read: StateFamilies
    fallback: StateFamilies


def register_state_metric(app: Flask, read: StateFamilies, fallback: StateFamilies) -> None:
    """A feature adds its database-backed figures to /metrics (backups, the doctor, the outbox)."""
    app.extensions.setdefault(_STATE_METRICS, []).append(StateMetric(read, fallback))


class StateCollector(Collector):
    """Every registered feature's figures, each read in the app's context at scrape time."""

    def __init__(self, app: Flask) -> None:
        self.app = app

    def collect(self) -> Iterator[GaugeMetricFamily]:
        for metric in self.app.extensions.get(_STATE_METRICS, ()):
            # Figures across every school, each read given up at HEALTH_CHECK_TIMEOUT (then the fallback).
            until = time.perf_counter() + self.app.extensions[SETTINGS_EXTENSION].health_check_timeout
            with self.app.app_context(), running_under(_METRICS), deadline_at(until):
                try:
                    families = list(metric.read())
                except SQLAlchemyError:
                    db.session.rollback()
                    families = list(metric.fallback())
                finally:
                    db.session.remove()
            yield from families
