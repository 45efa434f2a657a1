"""GET /metrics (token, bounded labels, what is counted), traceparent, the startup dependency
report, and the monitoring files (promtool, the dashboard's metric names)."""

from __future__ import annotations

import json
import re
import subprocess
from pathlib import Path
from typing import Any

import pytest
from flask import Flask
from prometheus_client import REGISTRY

from backend.config import PROJECT_ROOT
from backend.probes.checks import report_dependencies
from tests.conftest import PASSWORD, UNREACHABLE_DATABASE_URL, AppFactory, login, make_school, make_user

TOKEN = "metrics-token-0123456789"
MONITORING = PROJECT_ROOT / "deploy" / "monitoring"


def value(name: str, **labels: str) -> float:
    return REGISTRY.get_sample_value(name, labels) or 0.0


def scrape(app: Flask) -> str:
    response = app.test_client().get("/metrics", headers={"Authorization": f"Bearer {TOKEN}"})
    assert response.status_code == 200
    return response.get_data(as_text=True)


def test_metrics_need_the_token(make_app: AppFactory) -> None:
    app = make_app(METRICS_TOKEN=TOKEN)
    client = app.test_client()
    for headers in ({}, {"Authorization": "Bearer wrong-token-0000000"}, {"Authorization": f"Basic {TOKEN}"}):
        refused = client.get("/metrics", headers=headers)
        assert refused.status_code == 401 and refused.mimetype == "application/problem+json"
        assert TOKEN not in refused.get_data(as_text=True)
    allowed = client.get("/metrics", headers={"Authorization": f"Bearer {TOKEN}"})
    assert allowed.status_code == 200 and allowed.mimetype == "text/plain"
    assert "homeroom_http_requests_total" in allowed.get_data(as_text=True)


def test_production_serves_no_metrics_without_a_token(make_app: AppFactory) -> None:
    app = make_app(APP_ENV="production", CORS_ORIGINS="https://app.example.org", SECRET_KEY="s" * 40)
    assert app.test_client().get("/metrics").status_code == 404


def test_requests_are_counted_by_route_rule_not_raw_path(make_app: AppFactory, logs: Any) -> None:
    app = make_app(METRICS_TOKEN=TOKEN)
    client = app.test_client()
    admin = make_user(app, make_school(app), "admin")
    headers = {"Authorization": f"Bearer {login(client, admin)['access_token']}"}
    rule = "/api/students/<uuid:student_id>"
    before = value("homeroom_http_requests_total", method="GET", route=rule, status="404")
    unmatched = value("homeroom_http_requests_total", method="GET", route="(unmatched)", status="404")
    import uuid

    for _ in range(3):
        assert client.get(f"/api/students/{uuid.uuid4()}", headers=headers).status_code == 404
    client.get("/no/such/path/" + uuid.uuid4().hex)
    assert value("homeroom_http_requests_total", method="GET", route=rule, status="404") == before + 3
    assert (
        value("homeroom_http_requests_total", method="GET", route="(unmatched)", status="404")
        == unmatched + 1
    )
    text = scrape(app)
    assert re.search(
        r'homeroom_http_request_duration_seconds_bucket\{le="[^"]+",method="GET",route="/api/students/<uuid:student_id>"',
        text,
    )
    assert 'homeroom_db_pool_connections{state="checked_out"}' in text
    assert "homeroom_db_statements_per_request_bucket" in text and "homeroom_app_info" in text
    assert "homeroom_backup_last_success_timestamp_seconds" in text and "homeroom_schema_issues_open" in text
    assert not any(str(uuid.UUID(int=0))[:8] in line for line in text.splitlines() if "route=" in line)
    logged = [line for line in logs() if line.get("logger") == "homeroom.access"]
    assert not any(line["path"] == "/metrics" for line in logged)  # scrapes are not access-log noise


def test_security_events_are_counted(make_app: AppFactory) -> None:
    app = make_app(METRICS_TOKEN=TOKEN, REFRESH_REUSE_SECONDS=0)  # every reuse is a detection
    client = app.test_client()
    admin = make_user(app, make_school(app), "admin")
    failures, audits = (
        value("homeroom_auth_login_failures_total"),
        value("homeroom_audit_events_written_total"),
    )
    assert (
        client.post(
            "/api/auth/login", json={"email": admin.email, "password": "wrong-password-1"}
        ).status_code
        == 401
    )
    assert value("homeroom_auth_login_failures_total") == failures + 1
    assert value("homeroom_audit_events_written_total") >= audits + 1

    grant = login(client, admin, return_refresh_token=True)
    reuse = value("homeroom_auth_refresh_reuse_detections_total")
    assert client.post("/api/auth/refresh", json={"refresh_token": grant["refresh_token"]}).status_code == 200
    assert client.post("/api/auth/refresh", json={"refresh_token": grant["refresh_token"]}).status_code == 401
    assert value("homeroom_auth_refresh_reuse_detections_total") == reuse + 1


def test_rate_limit_refusals_are_counted_by_route(make_app: AppFactory) -> None:
    app = make_app(METRICS_TOKEN=TOKEN, LOGIN_RATE_LIMIT="2 per minute")
    client = app.test_client()
    before = value("homeroom_rate_limit_refusals_total", route="/api/auth/login")
    statuses = [
        client.post("/api/auth/login", json={"email": "nobody@example.org", "password": PASSWORD}).status_code
        for _ in range(4)
    ]
    assert statuses.count(429) == 2
    assert value("homeroom_rate_limit_refusals_total", route="/api/auth/login") == before + 2


def test_a_callers_trace_joins_the_logs(app: Flask, logs: Any) -> None:
    trace = "4bf92f3577b34da6a3ce929d0e0e4736"
    header = f"00-{trace}-00f067aa0ba902b7-01"
    response = app.test_client().get(
        "/api/health", headers={"traceparent": header, "X-Request-ID": "req-trace-1"}
    )
    assert response.headers["traceparent"] == header
    [line] = [
        line
        for line in logs()
        if line.get("request_id") == "req-trace-1" and line.get("logger") == "homeroom.access"
    ]
    assert line["trace_id"] == trace
    for bad in (
        "01-" + header[3:],
        f"00-{'0' * 32}-00f067aa0ba902b7-01",
        "00-xyz-00f067aa0ba902b7-01",
        "garbage",
    ):
        answer = app.test_client().get("/api/health", headers={"traceparent": bad})
        assert "traceparent" not in answer.headers


def test_startup_reports_each_dependency_critical_first(
    make_app: AppFactory, logs: Any, redis_server: Any
) -> None:
    redis_server.stop()  # an optional dependency that is down
    app = make_app(REDIS_URL=f"redis://127.0.0.1:{redis_server.port}/0")
    logs()
    report_dependencies(app)
    lines = [line for line in logs() if line.get("event") == "dependency"]
    names = [line["dependency"] for line in lines]
    assert names[0] == "database" and {"redis", "assistant_model", "knowledge_base"} <= set(names)
    database, redis_line = lines[0], lines[names.index("redis")]
    assert (database["status"], database["level"], database["critical"]) == ("ok", "info", True)
    assert redis_line["level"] == "warning" and redis_line["status"] != "ok"
    assert isinstance(database["latency_ms"], float)

    from backend import create_app
    from backend.config import settings_from
    from tests.conftest import base_config

    down = create_app(settings_from(**base_config(UNREACHABLE_DATABASE_URL, REDIS_URL="")))
    report_dependencies(down)
    [line] = [
        line for line in logs() if line.get("event") == "dependency" and line["dependency"] == "database"
    ]
    assert (line["level"], line["status"]) == ("error", "down")


# --- the operations files ---------------------------------------------------------------------------


def _promtool(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(["promtool", *args], capture_output=True, text=True, timeout=60, check=False)


def test_alert_rules_and_scrape_config_pass_promtool(tmp_path: Path) -> None:
    rules = _promtool("check", "rules", str(MONITORING / "alerts.yml"))
    assert rules.returncode == 0, rules.stdout + rules.stderr
    assert "SUCCESS: 10 rules found" in rules.stdout
    config = (MONITORING / "prometheus.yml").read_text()
    token_file = tmp_path / "token"
    token_file.write_text(TOKEN)
    (tmp_path / "alerts.yml").write_text((MONITORING / "alerts.yml").read_text())
    local = tmp_path / "prometheus.yml"
    local.write_text(config.replace("/etc/prometheus/homeroom-metrics-token", str(token_file)))
    checked = _promtool("check", "config", str(local))
    assert checked.returncode == 0, checked.stdout + checked.stderr


def test_promtool_refuses_a_broken_rule(tmp_path: Path) -> None:
    broken = tmp_path / "broken.yml"
    broken.write_text("groups:\n  - name: x\n    rules:\n      - alert: X\n        expr: sum(rate(\n")
    assert _promtool("check", "rules", str(broken)).returncode != 0


def _defined_metrics() -> set[str]:
    # core's request metrics and every feature's figures registered for /metrics (<package>/metrics.py)
    source = "".join(path.read_text() for path in (PROJECT_ROOT / "backend").glob("*/metrics.py"))
    return set(re.findall(r'"(homeroom_[a-z_]+)"', source))


@pytest.mark.parametrize("path", ["alerts.yml", "grafana-dashboard.json"])
def test_monitoring_files_use_only_metrics_that_exist(path: str) -> None:
    text = (MONITORING / path).read_text()
    if path.endswith(".json"):
        dashboard = json.loads(text)
        assert len(dashboard["panels"]) >= 12
        text = " ".join(target["expr"] for panel in dashboard["panels"] for target in panel["targets"])
    used = set(re.findall(r"\b(homeroom_[a-z_]+?)(?:_total|_bucket|_count|_sum)?\b", text))
    assert used and used <= _defined_metrics(), used - _defined_metrics()
