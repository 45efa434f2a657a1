"""Nothing personal or secret in logs: a 500 inside each sensitive route logs its traceback without
any frame's local variables, and the request models never show sensitive values in a repr."""

from __future__ import annotations

import json
import uuid
from collections.abc import Callable
from typing import Any

import pytest

from backend.audit import service as audit_service
from backend.auth import service as auth_service
from backend.auth.schemas import LoginIn, PasswordChangeIn, RefreshIn, UserCreateIn
from backend.health_records.schemas import HealthRecordIn
from tests.conftest import PASSWORD, login
from tests.school import World

SECRET_PASSWORD = "Leaky-Passw0rd-4417"
HEALTH = {
    "blood_type": "AB-",
    "allergies": [{"allergen": "Zanzibar nut 1185", "severity": "severe", "reaction": "Hives 2291"}],
    "conditions": ["Condition 3377"],
    "medications": [{"name": "Medicine 4483", "dose": "Dose 5519"}],
    "alerts": ["Alert 6641"],
    "physician": {"name": "Dr Quill 7753", "phone": "+44 20 7946 0881"},
    "notes": "Private note 8867",
}
HEALTH_VALUES = [
    "AB-", "Zanzibar nut 1185", "Hives 2291", "Condition 3377", "Medicine 4483", "Dose 5519", "Alert 6641",
    "Dr Quill 7753", "7946 0881", "Private note 8867",
]  # fmt: skip


class Boom(RuntimeError):
    """The failure injected deep inside a route, after the body has been read."""


def _fail(*_: Any, **__: Any) -> Any:
    raise Boom("injected")


def _logged(logs: Callable[[], list[dict[str, Any]]]) -> str:
    lines = logs()
    crashes = [line for line in lines if line["event"] == "unhandled_exception"]
    assert len(crashes) == 1, lines
    assert "Boom" in json.dumps(crashes[0])  # the traceback is there, its frames without locals
    return "\n".join(json.dumps(line) for line in lines)


@pytest.fixture
def crash_audit(monkeypatch: pytest.MonkeyPatch) -> None:
    """Every write records an audit event after parsing its body: fail there."""
    monkeypatch.setattr(audit_service, "_append", _fail)


def test_a_crash_during_sign_in_logs_no_password_or_email(world: World, logs, crash_audit: None) -> None:
    logs()
    email = world.accounts["teacher"].email
    response = world.client.post("/api/auth/login", json={"email": email, "password": PASSWORD})
    assert response.status_code == 500
    text = _logged(logs)
    assert PASSWORD not in text and email not in text


def test_a_crash_during_a_password_change_logs_neither_password(
    world: World, logs, crash_audit: None
) -> None:
    logs()
    response = world.client.post(
        "/api/auth/password",
        json={"current_password": PASSWORD, "new_password": SECRET_PASSWORD},
        headers=world.as_("teacher"),
    )
    assert response.status_code == 500
    text = _logged(logs)
    assert PASSWORD not in text and SECRET_PASSWORD not in text


def test_a_crash_while_creating_a_user_logs_no_password(world: World, logs, crash_audit: None) -> None:
    logs()
    body = {
        "email": "new.person@example.org",
        "full_name": "New",
        "role": "teacher",
        "password": SECRET_PASSWORD,
    }
    response = world.client.post("/api/users", json=body, headers=world.as_("admin"))
    assert response.status_code == 500
    text = _logged(logs)
    assert SECRET_PASSWORD not in text and "new.person@example.org" not in text


def test_a_crash_while_saving_a_health_record_logs_none_of_it(world: World, logs, crash_audit: None) -> None:
    logs()
    response = world.client.put(
        f"/api/students/{world.ids['alice']}/health", json=HEALTH, headers=world.as_("admin")
    )
    assert response.status_code == 500
    text = _logged(logs)
    assert [value for value in HEALTH_VALUES if value in text] == []


def test_a_crash_while_reading_a_health_record_logs_none_of_it(
    world: World, logs, monkeypatch: pytest.MonkeyPatch
) -> None:
    path = f"/api/students/{world.ids['alice']}/health"
    assert world.client.put(path, json=HEALTH, headers=world.as_("admin")).status_code == 200
    logs()
    monkeypatch.setattr(audit_service, "_append", _fail)  # the read is audited after decrypting
    assert world.client.get(path, headers=world.as_("admin")).status_code == 500
    text = _logged(logs)
    assert [value for value in HEALTH_VALUES if value in text] == []


def test_a_crash_while_taking_a_payment_logs_no_reference(world: World, logs) -> None:
    invoice = world.post(
        "admin",
        "/api/invoices",
        {
            "student_id": str(world.ids["alice"]),
            "number": "INV-LEAK",
            "due_date": "2099-01-01",
            "lines": [{"description": "Trip", "category": "trips", "amount_cents": 5000}],
        },
    )
    assert (
        world.client.post(f"/api/invoices/{invoice['id']}/issue", headers=world.as_("admin")).status_code
        == 200
    )
    logs()
    with pytest.MonkeyPatch.context() as patch:
        patch.setattr(audit_service, "_append", _fail)
        response = world.client.post(
            f"/api/invoices/{invoice['id']}/payments",
            json={"amount_cents": 1200, "method": "card", "reference": "CARD-REF-9931"},
            headers={**world.as_("admin"), "Idempotency-Key": uuid.uuid4().hex},
        )
    assert response.status_code == 500
    assert "CARD-REF-9931" not in _logged(logs)


def test_a_crash_during_a_refresh_logs_no_token(world: World, logs, monkeypatch: pytest.MonkeyPatch) -> None:
    token = login(world.client, world.accounts["parent"], return_refresh_token=True)["refresh_token"]
    logs()
    monkeypatch.setattr(auth_service, "_issue", _fail)
    response = world.client.post("/api/auth/refresh", json={"refresh_token": token})
    assert response.status_code == 500
    assert token not in _logged(logs)


def test_sensitive_request_fields_never_show_in_a_repr() -> None:
    shown = " ".join(
        repr(model)
        for model in (
            LoginIn(email="ada@example.org", password=SECRET_PASSWORD),
            PasswordChangeIn(current_password=PASSWORD, new_password=SECRET_PASSWORD),
            RefreshIn(refresh_token="refresh-token-value-1234"),
            UserCreateIn.model_validate(
                {"email": "ada@example.org", "full_name": "Ada", "role": "admin", "password": SECRET_PASSWORD}
            ),
            HealthRecordIn.model_validate(HEALTH),
            *HealthRecordIn.model_validate(HEALTH).allergies,
        )
    )
    for value in (SECRET_PASSWORD, PASSWORD, "ada@example.org", "refresh-token-value-1234", *HEALTH_VALUES):
        assert value not in shown
    assert "Ada" in shown  # names of people are not secret here: the repr still helps debugging
