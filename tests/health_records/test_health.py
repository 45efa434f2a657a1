"""Health records: encrypted at rest, shown to each role as it may see them, audited without
values, and readable after a key rotation once the old key is gone."""

from __future__ import annotations

import json
from typing import Any

import pytest
from cryptography.fernet import Fernet
from flask import Flask
from sqlalchemy import select, text, update

from backend.audit.models import AuditEvent
from backend.core.extensions import db
from backend.health_records.models import HealthRecord
from backend.students.models import GuardianLink
from tests.conftest import RUN_ENCRYPTION_KEY, AppFactory, auth_headers, make_school, make_user
from tests.school import World

RECORD = {
    "blood_type": "O-",
    "allergies": [
        {
            "allergen": "Peanut",
            "severity": "life_threatening",
            "reaction": "Anaphylaxis",
            "response": "Adrenaline auto-injector, call 999",
        }
    ],
    "conditions": ["Asthma"],
    "medications": [{"name": "Salbutamol", "dose": "2 puffs", "schedule": "as needed"}],
    "alerts": ["Carries an auto-injector"],
    "physician": {"name": "Dr Quill", "phone": "+44 20 7946 0000"},
    "notes": "Sees a specialist yearly",
}
SECRETS = ("Peanut", "Anaphylaxis", "Asthma", "Salbutamol", "Dr Quill", "7946", "specialist", "auto-injector")


def _put(world: World, who: str = "admin", body: dict[str, Any] | None = None) -> Any:
    return world.client.put(
        f"/api/students/{world.ids['alice']}/health", json=body or RECORD, headers=world.as_(who)
    )


def _get(world: World, who: str) -> Any:
    return world.client.get(f"/api/students/{world.ids['alice']}/health", headers=world.as_(who))


def _raw_row(app: Flask) -> dict[str, Any]:
    with app.app_context():
        row = (
            db.session.execute(
                text(
                    "SELECT blood_type, allergies, conditions, medications, alerts, physician, notes "
                    "FROM health_records"
                )
            )
            .mappings()
            .one()
        )
    return dict(row)


def test_every_field_is_a_fernet_token_in_the_database(world: World) -> None:
    assert _put(world).status_code == 200
    raw = _raw_row(world.app)
    assert all(value.startswith("gAAAAA") for value in raw.values())
    stored = json.dumps(raw)
    assert not any(secret in stored for secret in SECRETS)
    assert json.loads(Fernet(RUN_ENCRYPTION_KEY).decrypt(raw["conditions"].encode())) == ["Asthma"]


def test_admin_reads_and_replaces_the_whole_record(world: World) -> None:
    assert _get(world, "admin").status_code == 404  # nothing recorded yet
    _put(world)
    body = _get(world, "admin").get_json()
    assert body["view"] == "full" and body["blood_type"] == "O-" and body["physician"]["name"] == "Dr Quill"
    replaced = _put(world, body={"allergies": [], "alerts": []}).get_json()
    assert replaced["blood_type"] is None and replaced["conditions"] == []
    assert _get(world, "admin").get_json()["notes"] is None


def test_teachers_see_allergies_and_alerts_only(world: World) -> None:
    _put(world)
    response = _get(world, "teacher")
    assert response.status_code == 200
    body = response.get_json()
    assert set(body) == {"student_id", "view", "allergies", "alerts", "updated_at"}
    assert body["view"] == "alerts" and body["allergies"][0]["allergen"] == "Peanut"
    assert "Asthma" not in response.get_data(as_text=True)
    assert _get(world, "other_teacher").status_code == 404


def test_parents_need_the_health_permission(world: World) -> None:
    _put(world)
    refused = _get(world, "parent")
    assert refused.status_code == 403
    assert not any(secret in refused.get_data(as_text=True) for secret in SECRETS)
    with world.app.app_context():
        db.session.execute(update(GuardianLink).values(can_view_health=True))
        db.session.commit()
    assert _get(world, "parent").get_json()["view"] == "full"
    assert _get(world, "other_parent").status_code == 404
    assert _get(world, "other_school_admin").status_code == 404


@pytest.mark.parametrize("who", ["teacher", "parent", "other_school_admin"])
def test_only_admins_of_the_school_write(world: World, who: str) -> None:
    assert _put(world, who).status_code in (403, 404)
    with world.app.app_context():
        assert db.session.scalar(select(HealthRecord.id)) is None


def test_reads_and_writes_are_audited_without_values(world: World) -> None:
    _put(world)
    _get(world, "admin")
    _get(world, "teacher")
    _put(world, body={**RECORD, "notes": "Changed note"})
    with world.app.app_context():
        events = db.session.scalars(
            select(AuditEvent)
            .where(
                AuditEvent.resource_type == "health_record",
                AuditEvent.school_id == world.accounts["admin"].school_id,
            )
            .order_by(AuditEvent.seq)
        ).all()
        found = [(e.action, e.changes.get("view"), e.changes.get("fields_changed")) for e in events]
        text_of_events = json.dumps([e.changes for e in events])
    assert found == [
        (
            "health.update",
            None,
            ["blood_type", "allergies", "conditions", "medications", "alerts", "physician", "notes"],
        ),
        ("health.view", "full", None),
        ("health.view", "alerts", None),
        ("health.update", None, ["notes"]),
    ]
    assert not any(secret in text_of_events for secret in (*SECRETS, "Changed note"))


def test_health_values_never_reach_logs_or_errors(world: World, logs) -> None:
    logs()
    _put(world)
    _get(world, "teacher")
    bad = _put(world, body={**RECORD, "allergies": [{"allergen": "Peanut", "severity": "deadly"}]})
    assert bad.status_code == 422
    assert not any(secret in bad.get_data(as_text=True) for secret in SECRETS)
    leaks = [line for line in logs() if any(secret in json.dumps(line) for secret in SECRETS)]
    assert leaks == []  # shows any leaking line in full


# --- key rotation -------------------------------------------------------------------------------


def _school_with_record(app: Flask) -> tuple[Any, dict[str, str]]:
    school = make_school(app)
    admin = make_user(app, school, "admin")
    client = app.test_client()
    headers = auth_headers(client, admin)
    student = client.post(
        "/api/students",
        headers=headers,
        json={
            "admission_number": "H-1",
            "first_name": "Hal",
            "last_name": "Hale",
            "date_of_birth": "2015-01-01",
            "grade_level": 4,
        },
    ).get_json()["id"]
    assert client.put(f"/api/students/{student}/health", json=RECORD, headers=headers).status_code == 200
    return student, headers


def test_rotation_lets_the_old_key_go(make_app: AppFactory) -> None:
    old, new = RUN_ENCRYPTION_KEY, Fernet.generate_key().decode()
    student, headers = _school_with_record(make_app())
    both = make_app(ENCRYPTION_KEYS=f"{new},{old}")
    result = both.test_cli_runner().invoke(args=["crypto", "rotate", "--batch-size", "1"])
    assert result.exit_code == 0, result.output
    assert "re-encrypted 7 values" in result.output
    raw = _raw_row(both)
    for value in raw.values():
        Fernet(new).decrypt(value.encode())  # readable with the new key alone
    again = both.test_cli_runner().invoke(args=["crypto", "rotate"])
    assert "re-encrypted 0 values" in again.output  # idempotent

    new_only = make_app(ENCRYPTION_KEYS=new)
    response = new_only.test_client().get(f"/api/students/{student}/health", headers=headers)
    assert response.status_code == 200 and response.get_json()["physician"]["name"] == "Dr Quill"
    old_only = make_app(ENCRYPTION_KEYS=old)
    assert old_only.test_client().get(f"/api/students/{student}/health", headers=headers).status_code == 500
    with both.app_context():
        assert (
            db.session.scalar(
                select(AuditEvent.changes)
                .where(AuditEvent.action == "crypto.rotate")
                .order_by(AuditEvent.occurred_at.desc())
                .limit(1)
            )["values_rotated"]
            == 0
        )


def test_rotation_resumes_where_it_stopped(make_app: AppFactory) -> None:
    old, new = RUN_ENCRYPTION_KEY, Fernet.generate_key().decode()
    _school_with_record(make_app())
    both = make_app(ENCRYPTION_KEYS=f"{new},{old}")
    # An interrupted run: two columns already moved to the new key.
    raw = _raw_row(both)
    moved = {
        name: Fernet(new).encrypt(Fernet(old).decrypt(raw[name].encode())).decode()
        for name in ("blood_type", "notes")
    }
    with both.app_context():
        db.session.execute(text("UPDATE health_records SET blood_type = :blood_type, notes = :notes"), moved)
        db.session.commit()
    result = both.test_cli_runner().invoke(args=["crypto", "rotate"])
    assert "re-encrypted 5 values" in result.output
    assert _raw_row(both)["blood_type"] == moved["blood_type"]  # not touched twice


def test_generate_key_prints_a_fernet_key(app: Flask) -> None:
    key = app.test_cli_runner().invoke(args=["crypto", "generate-key"]).output.strip()
    Fernet(key)
    assert key != app.test_cli_runner().invoke(args=["crypto", "generate-key"]).output.strip()
