"""Every error is a problem: dates at the edges of the calendar, timestamps that overflow in UTC,
query dates that are not dates, tampered cursors and malformed chunked bodies are 4xx problems
with a short log line, never a 500."""

from __future__ import annotations

import base64
import io
import json
import uuid
from typing import Any

import pytest

from tests.conftest import PASSWORD
from tests.school import World


def _assert_422(response: Any, field: str | None = None) -> None:
    assert response.status_code == 422, response.get_json()
    body = response.get_json()
    assert response.mimetype == "application/problem+json" and body["code"] == "validation_error"
    if field is not None:
        assert field in [error["field"] for error in body["errors"]], body


@pytest.mark.parametrize(
    "query",
    [
        {"to": "0001-01-05"},
        {"from": "0001-01-01", "to": "0001-01-02"},
        {"to": "9999-12-31", "from": "9999-12-01"},
    ],
)
def test_attendance_ranges_at_the_edges_of_the_calendar(world: World, query: dict[str, str]) -> None:
    response = world.client.get(
        f"/api/students/{world.ids['alice']}/attendance", query_string=query, headers=world.as_("admin")
    )
    assert response.status_code == 200, response.get_json()
    assert response.get_json()["summary"]["total"] == 0


@pytest.mark.parametrize(
    ("name", "value"),
    [
        ("from", "9999-12-31T23:59:59-05:00"),  # past year 9999 in UTC
        ("to", "0001-01-01T00:00:00+05:00"),  # before year 1 in UTC
        ("from", "2026-01-01T00:00:00"),  # no offset: ambiguous
        ("from", "0"),  # a Unix time is not an ISO timestamp
        ("to", "2026-01-01"),  # a date where a timestamp is expected
    ],
)
def test_audit_search_refuses_timestamps_it_cannot_place(world: World, name: str, value: str) -> None:
    response = world.client.get("/api/audit-events", query_string={name: value}, headers=world.as_("admin"))
    _assert_422(response, f"query.{name}")


@pytest.mark.parametrize(
    "value", ["0", "1700000000", "2026-13-01", "2026-1-1", "yesterday", "2026-01-01T00:00"]
)
def test_a_query_date_must_be_a_calendar_date(world: World, value: str) -> None:
    response = world.client.get(
        f"/api/classes/{world.ids['maths']}/attendance",
        query_string={"date": value},
        headers=world.as_("admin"),
    )
    _assert_422(response, "query.date")


def test_a_payment_time_that_overflows_in_utc_is_refused(world: World) -> None:
    invoice = world.post(
        "admin",
        "/api/invoices",
        {
            "student_id": str(world.ids["alice"]),
            "number": "INV-EDGE",
            "due_date": "2099-01-01",
            "lines": [{"description": "Trip", "category": "trips", "amount_cents": 5000}],
        },
    )
    world.client.post(f"/api/invoices/{invoice['id']}/issue", headers=world.as_("admin"))
    response = world.client.post(
        f"/api/invoices/{invoice['id']}/payments",
        json={"amount_cents": 100, "method": "cash", "paid_at": "9999-12-31T23:00:00-05:00"},
        headers={**world.as_("admin"), "Idempotency-Key": uuid.uuid4().hex},
    )
    _assert_422(response, "body.paid_at")


def _cursor(raw: str) -> str:
    return base64.urlsafe_b64encode(raw.encode()).decode().rstrip("=")


ID = uuid.uuid4()
TAMPERED = [
    _cursor("[NaN]"),
    _cursor('["Archer", "Alice", "\\u0000"]'),
    _cursor(f'["Archer", NaN, "{ID}"]'),
    _cursor('["Archer", "Alice"]'),  # wrong arity
    _cursor(f'["Archer", "Alice", "{ID}", "extra"]'),
    _cursor("[1, 2, 3]"),  # wrong types
    _cursor(f'[true, "Alice", "{ID}"]'),
    _cursor('["Archer", "Alice", "not-a-uuid"]'),
    _cursor('{"a": 1}'),
    _cursor("[Infinity]"),
    "naïve",
    "%%%",
    base64.urlsafe_b64encode(b"\xff\xfe[").decode(),
]


@pytest.mark.parametrize("cursor", TAMPERED)
def test_a_tampered_student_cursor_is_a_422(world: World, cursor: str) -> None:
    response = world.client.get("/api/students", query_string={"cursor": cursor}, headers=world.as_("admin"))
    _assert_422(response, "query.cursor")


@pytest.mark.parametrize(
    "values",
    [
        ["2026-01-01T10:00:00", str(uuid.uuid4())],  # a timestamp without its offset
        ["2026-01-01", str(uuid.uuid4())],  # a date where a timestamp is expected
        ["9999-12-31T23:59:59-05:00", str(uuid.uuid4())],  # overflows in UTC
        ["0001-01-01T00:00:00+05:00", str(uuid.uuid4())],
        [1700000000, str(uuid.uuid4())],
        ["2026-01-01T10:00:00+00:00", 12],
    ],
)
def test_a_tampered_timestamp_cursor_is_a_422(world: World, values: list[Any]) -> None:
    cursor = _cursor(json.dumps(values))
    response = world.client.get(
        "/api/audit-events", query_string={"cursor": cursor}, headers=world.as_("admin")
    )
    _assert_422(response, "query.cursor")


@pytest.mark.parametrize(
    "values", [["2026-01-01T00:00:00+00:00", str(uuid.uuid4())], [None, None], ["0000-00-00", "x"]]
)
def test_a_tampered_date_cursor_is_a_422(world: World, values: list[Any]) -> None:
    cursor = _cursor(json.dumps(values))
    response = world.client.get(
        f"/api/students/{world.ids['alice']}/attendance",
        query_string={"cursor": cursor},
        headers=world.as_("admin"),
    )
    _assert_422(response, "query.cursor")


class InvalidChunkSize(Exception):  # named after Gunicorn's, which is a plain Exception
    pass


class BrokenChunks(io.RawIOBase):
    """A chunked body as Gunicorn hands it over when the chunk size is not hexadecimal (the real
    server is in tests/serving/test_gunicorn.py)."""

    def readable(self) -> bool:
        return True

    def readinto(self, buffer: Any) -> int:
        raise InvalidChunkSize("Invalid chunk size: 'zz'")


def test_a_malformed_chunked_sign_in_is_a_400_with_a_short_log_line(world: World, logs) -> None:
    logs()
    response = world.client.post(
        "/api/auth/login",
        headers={"Content-Type": "application/json", "Transfer-Encoding": "chunked"},
        environ_overrides={"wsgi.input": io.BufferedReader(BrokenChunks()), "wsgi.input_terminated": True},
    )
    assert response.status_code == 400
    assert response.mimetype == "application/problem+json"
    assert response.get_json()["detail"] == "The chunked request body is malformed."
    lines = logs()
    assert [line["event"] for line in lines] == ["request"]  # the access line alone: no traceback
    assert "exception" not in lines[0]
    # Nothing was read as a sign-in: the right password still works afterwards.
    account = world.accounts["teacher"]
    ok = world.client.post("/api/auth/login", json={"email": account.email, "password": PASSWORD})
    assert ok.status_code == 200
