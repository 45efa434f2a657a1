"""/api/health reports the last successful backup's age where backups are configured."""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest
from flask import Flask

from backend.backups.models import BackupRun
from backend.core.db import dispose_pools
from backend.core.extensions import db
from backend.core.models import utcnow
from tests.backups.conftest import ENGINES, backup_app, cli, migrate, new_database


@pytest.fixture(params=ENGINES)
def database(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[str]:
    with new_database(request.param, tmp_path) as url:
        migrate(url)
        yield url


@pytest.fixture
def apps(database: str, tmp_path: Path) -> Iterator[list[Flask]]:
    made: list[Flask] = []
    yield made
    for app in made:
        dispose_pools(app)


def health(app: Flask) -> dict[str, Any]:
    response = app.test_client().get("/api/health")
    assert response.status_code == 200
    return response.get_json()


def add_run(app: Flask, hours_ago: float, status: str = "ok") -> None:
    finished = utcnow() - timedelta(hours=hours_ago)
    with app.app_context():
        db.session.add(
            BackupRun(
                id=uuid.uuid4(),
                kind="create",
                status=status,
                started_at=finished - timedelta(seconds=5),
                finished_at=finished,
                duration_ms=5000,
                file="x.pgdump",
            )
        )
        db.session.commit()


def test_no_backup_component_where_backups_are_not_configured(database: str, apps: list[Flask]) -> None:
    from backend import create_app
    from backend.config import settings_from
    from tests.conftest import base_config

    apps.append(create_app(settings_from(**base_config(database, REDIS_URL=""))))
    assert "backup" not in health(apps[0])["components"]


def test_degraded_until_the_first_backup_then_ok(database: str, apps: list[Flask], tmp_path: Path) -> None:
    app = backup_app(database, tmp_path / "backups")
    apps.append(app)
    before = health(app)
    assert before["components"]["backup"]["status"] == "degraded"
    assert before["components"]["backup"]["reason"] == "no_backup_yet"
    assert before["components"]["backup"]["critical"] is False
    assert before["status"] == "degraded"

    assert cli(app, "backup", "create").exit_code == 0
    after = health(app)["components"]["backup"]
    assert after["status"] == "ok" and 0 <= after["age_hours"] < 1
    assert after["last_success_at"].endswith("Z") and after["max_age_hours"] == 26


def test_too_old_a_backup_is_degraded_and_failures_do_not_count(
    database: str, apps: list[Flask], tmp_path: Path
) -> None:
    app = backup_app(database, tmp_path / "backups")
    apps.append(app)
    add_run(app, hours_ago=30)
    add_run(app, hours_ago=1, status="failed")
    component = health(app)["components"]["backup"]
    assert component["status"] == "degraded" and 30 <= component["age_hours"] < 31

    lenient = backup_app(database, tmp_path / "backups", BACKUP_MAX_AGE_HOURS=48)
    apps.append(lenient)
    assert health(lenient)["components"]["backup"]["status"] == "ok"
    # /ready does not wait for backups: they are not a reason to take a pod out of service.
    assert lenient.test_client().get("/ready").status_code == 200
