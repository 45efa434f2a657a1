"""Liveness, readiness and component health."""

from __future__ import annotations

import json

from flask_migrate import upgrade

from backend import create_app
from backend.config import settings_from
from backend.core.db import dispose_pools
from tests.conftest import UNREACHABLE_DATABASE_URL, AppFactory, base_config


def test_liveness_is_ok(client) -> None:
    response = client.get("/health")
    assert response.status_code == 200
    assert response.get_json() == {"status": "ok"}


def test_liveness_touches_no_dependency(make_app: AppFactory) -> None:
    client = make_app(DATABASE_URL=UNREACHABLE_DATABASE_URL).test_client()
    assert client.get("/health").status_code == 200
    assert client.head("/health").status_code == 200


def test_ready_when_the_database_is_migrated(client) -> None:
    response = client.get("/ready")
    assert response.status_code == 200
    body = response.get_json()
    assert body["status"] == "ready"
    database = body["checks"]["database"]
    assert database["status"] == "ok"
    assert database["critical"] is True
    assert database["migrations"]["at_head"] is True
    assert database["latency_ms"] >= 0


def test_not_ready_when_the_database_is_unreachable(make_app: AppFactory) -> None:
    app = make_app(DATABASE_URL=UNREACHABLE_DATABASE_URL, HEALTH_CHECK_TIMEOUT=1)
    response = app.test_client().get("/ready")
    assert response.status_code == 503
    assert response.mimetype == "application/problem+json"
    assert response.headers["Retry-After"] == "5"
    body = response.get_json()
    assert body["code"] == "service_unavailable"
    assert body["failing"] == ["database"]
    assert body["checks"]["database"]["status"] == "down"
    assert "database" in body["detail"]
    assert "127.0.0.1" not in response.get_data(as_text=True)


def test_not_ready_until_migrations_reach_head(fresh_database_url: str) -> None:
    app = create_app(settings_from(**base_config(fresh_database_url)))
    client = app.test_client()
    response = client.get("/ready")
    assert response.status_code == 503
    database = response.get_json()["checks"]["database"]
    assert database["reason"] == "migrations_pending"
    assert database["migrations"]["current"] == []
    with app.app_context():
        upgrade()
    assert client.get("/ready").status_code == 200
    dispose_pools(app)


def test_readiness_recovers_when_the_database_returns(app, make_app: AppFactory) -> None:
    broken = make_app(DATABASE_URL=UNREACHABLE_DATABASE_URL).test_client()
    assert broken.get("/ready").status_code == 503
    assert app.test_client().get("/ready").status_code == 200


def test_component_health_reports_database_pool_version_uptime(client, migrated_database: str) -> None:
    response = client.get("/api/health")
    assert response.status_code == 200
    body = response.get_json()
    assert body["status"] == "ok"
    assert body["version"] == "0.1.0"
    assert body["uptime_seconds"] >= 0
    assert body["components"]["database"]["status"] == "ok"
    assert body["components"]["database"]["critical"] is True
    assert isinstance(body["components"]["database"]["latency_ms"], float)
    assert set(body["database_pool"]) == {"size", "checked_in", "checked_out", "overflow"}
    text = json.dumps(body)
    assert migrated_database not in text and "127.0.0.1" not in text and "sqlite" not in text


def test_component_health_says_down_without_failing(make_app: AppFactory) -> None:
    response = make_app(DATABASE_URL=UNREACHABLE_DATABASE_URL).test_client().get("/api/health")
    assert response.status_code == 200
    body = response.get_json()
    assert body["status"] == "down"
    assert body["components"]["database"] == {
        "critical": True,
        "status": "down",
        "error": "OperationalError",
        "latency_ms": body["components"]["database"]["latency_ms"],
    }


def test_optional_component_only_degrades(app) -> None:
    from backend.probes.checks import register_check

    def broken(_app: object) -> None:
        raise ConnectionError("cache is down")

    register_check(app, "cache", broken, critical=False)
    client = app.test_client()
    assert client.get("/ready").status_code == 200
    body = client.get("/api/health").get_json()
    assert body["status"] == "degraded"
    assert body["components"]["cache"]["status"] == "down"
    assert "cache is down" not in json.dumps(body)
