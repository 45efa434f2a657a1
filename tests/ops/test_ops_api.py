"""The operators' API on a drifted database: health, scans, fixes, the switch across instances,
backups, audit chains and drafts."""

from __future__ import annotations

from typing import Any

from flask import Flask
from flask.testing import FlaskClient
from sqlalchemy import text

from backend.core.extensions import db
from tests.conftest import auth_headers, make_operator
from tests.doctor.conftest import CHANGED_TYPE, DROPPED_INDEX, DROPPED_TRIGGER, Drifted


class Operator:
    def __init__(self, app: Flask) -> None:
        self.client: FlaskClient = app.test_client()
        self.headers = auth_headers(self.client, make_operator(app))

    def get(self, path: str) -> Any:
        return self.client.get(path, headers=self.headers)

    def post(self, path: str, body: Any = None) -> Any:
        return self.client.post(path, json=body, headers=self.headers)


def test_scan_fix_and_history_through_the_api(drifted: Drifted) -> None:
    ops = Operator(drifted.app())
    before = ops.get("/api/ops/db-health").get_json()
    assert before["status"] == "never_scanned" and before["last_scan"] is None and before["fixes"] == []
    assert before["switch"]["fixes_enabled"] is True

    scan = ops.post("/api/ops/db-health/scan")
    assert scan.status_code == 200
    issues = {issue["id"]: issue for issue in scan.get_json()["issues"]}
    assert {DROPPED_INDEX, DROPPED_TRIGGER[drifted.engine], CHANGED_TYPE} <= issues.keys()
    assert scan.get_json()["status"] == "issues" and scan.get_json()["trigger"] == "api"

    draft = scan.get_json()["draft"]
    shown = ops.get(f"/api/ops/db-health/drafts/{draft}")
    assert (
        shown.status_code == 200
        and shown.mimetype == "text/x-python"
        and "DRAFT" in shown.get_data(as_text=True)
    )
    for bad in ("../../etc/passwd", "doctor_draft_zzzz.py", "x.py"):
        assert ops.get(f"/api/ops/db-health/drafts/{bad}").status_code == 404

    fixed = ops.post("/api/ops/db-health/fixes", {"issue_ids": [DROPPED_INDEX, CHANGED_TYPE]})
    assert fixed.status_code == 200, fixed.get_json()
    outcomes = {o["issue_id"]: o for o in fixed.get_json()["outcomes"]}
    assert outcomes[DROPPED_INDEX]["status"] == "ok" and outcomes[DROPPED_INDEX]["backup_file"]
    assert outcomes[CHANGED_TYPE]["status"] == "skipped"
    assert DROPPED_INDEX not in {issue["id"] for issue in fixed.get_json()["scan"]["issues"]}

    after = ops.get("/api/ops/db-health").get_json()
    [history] = after["fixes"]
    assert history["issue_id"] == DROPPED_INDEX and history["status"] == "ok" and history["actor_id"]
    assert history["statements"] and history["trigger"] == "api"

    for body in (
        {},
        {"issue_ids": []},
        {"issue_ids": ["DROP TABLE users"]},
        {"issue_ids": [DROPPED_INDEX], "x": 1},
    ):
        assert ops.post("/api/ops/db-health/fixes", body).status_code == 422


def test_the_switch_turned_off_on_one_instance_stops_fixes_on_another(drifted: Drifted) -> None:
    first, second = Operator(drifted.app()), Operator(drifted.app())
    off = first.post("/api/ops/db-health/autofix", {"enabled": False})
    assert off.status_code == 200 and off.get_json()["fixes_enabled"] is False
    refused = second.post("/api/ops/db-health/fixes", {"issue_ids": [DROPPED_INDEX]})
    assert refused.status_code == 409
    assert "switched fixing off" in refused.get_json()["detail"]
    assert second.get("/api/ops/db-health").get_json()["switch"]["by_switch"] is False
    assert first.post("/api/ops/db-health/autofix", {"enabled": True}).get_json()["fixes_enabled"] is True
    assert second.post("/api/ops/db-health/fixes", {"issue_ids": [DROPPED_INDEX]}).status_code == 200


def test_backups_from_the_api(drifted: Drifted) -> None:
    ops = Operator(drifted.app())
    empty = ops.get("/api/ops/backups").get_json()
    assert empty["configured"] is True and empty["files"] == [] and empty["age_hours"] is None
    made = ops.post("/api/ops/backups")
    assert made.status_code == 201, made.get_json()
    listed = ops.get("/api/ops/backups").get_json()
    assert [f["name"] for f in listed["files"]] == [made.get_json()["name"]]
    assert listed["files"][0]["complete"] is True and listed["age_hours"] < 1
    assert listed["runs"][0]["kind"] in ("create", "prune")

    unconfigured = Operator(drifted.app(BACKUP_DIR=""))
    assert unconfigured.get("/api/ops/backups").get_json()["configured"] is False
    refused = unconfigured.post("/api/ops/backups")
    assert refused.status_code == 409 and "BACKUP_DIR is not set" in refused.get_json()["detail"]


def test_audit_chains_of_every_school(drifted: Drifted) -> None:
    app = drifted.app()
    ops = Operator(app)
    report = ops.get("/api/ops/audit/verify").get_json()
    assert report["status"] == "ok"
    names = {chain["school_name"] for chain in report["chains"]}
    assert "(platform)" in names and any(name and name.startswith("School ") for name in names)
    with app.app_context():  # tamper with an event: the drift dropped the trigger that refuses it
        db.session.execute(text("UPDATE audit_events SET action = 'x' WHERE seq = 1"))
        db.session.commit()
    broken = ops.get("/api/ops/audit/verify").get_json()
    assert broken["status"] == "broken"
    assert any(c["status"] == "broken" and "does not match" in (c["problem"] or "") for c in broken["chains"])
