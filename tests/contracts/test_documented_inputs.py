"""The OpenAPI document's promises about inputs, checked on every operation that makes them.

- Text: a `maxLength` is the length as sent. One character more is a 422 naming the field, even
  when that character is white space that would be trimmed (U+0085 NEXT LINE, say).
- Dates (`format: date`) are ISO 8601 calendar dates, YYYY-MM-DD, and nothing else: not a Unix
  time ("0", 1700000000), not a compact or out-of-calendar date, not a date with a time. Points in
  time (`format: date-time`) are ISO 8601 with an offset, never a Unix time either.
Each refusal is a 422 naming the parameter or field and, for dates, the form to use.
"""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from typing import Any

import pytest
from flask import Flask
from flask.testing import FlaskClient

from backend.auth.models import User
from backend.core.extensions import db
from backend.students.models import Student
from tests.conftest import PASSWORD, auth_headers, make_operator, make_school, make_user

Path = tuple[str, ...]  # ("body", "lines", "0", "category") or ("query", "to")
BAD_DATES: list[Any] = ["0", "1700000000", "1699920000", "2026-13-01", "20260102", "2026-01-02T00:00:00", 0]
BAD_TIMESTAMPS: list[Any] = ["0", "1700000000", "1699920000", 1700000000]
# Operations that take a query string and require a body: a valid body, so that the query string
# (read after the body) is looked at. A new such operation fails the tests until it is listed.
VALID_BODIES: dict[tuple[str, str], Any] = {
    ("put", "/api/classes/{class_id}/attendance"): {
        "records": [{"student_id": str(uuid.UUID(int=1)), "status": "present"}]
    },
}


@pytest.fixture
def callers(app: Flask) -> dict[str, dict[str, str]]:
    client = app.test_client()
    return {
        "admin": auth_headers(client, make_user(app, make_school(app), "admin")),
        "operator": auth_headers(client, make_operator(app)),
    }


def _resolve(schema: dict[str, Any], components: dict[str, Any]) -> dict[str, Any]:
    while "$ref" in schema:
        schema = components[schema["$ref"].rsplit("/", 1)[-1]]
    return schema


def _leaves(
    schema: dict[str, Any], components: dict[str, Any], path: Path
) -> Iterator[tuple[Path, dict[str, Any]]]:
    """Every string schema under `schema`, with where it sits (list items at index 0)."""
    schema = _resolve(schema, components)
    for option in schema.get("anyOf", []):
        yield from _leaves(option, components, path)
    if schema.get("type") == "string":
        yield path, schema
    for name, prop in schema.get("properties", {}).items():
        yield from _leaves(prop, components, (*path, name))
    if "items" in schema:
        yield from _leaves(schema["items"], components, (*path, "0"))


def _url(path: str, operation: dict[str, Any]) -> str:
    for parameter in operation.get("parameters", []):
        if parameter["in"] == "path":
            schema = parameter["schema"]
            value = schema["enum"][0] if "enum" in schema else str(uuid.uuid4())
            path = path.replace("{" + parameter["name"] + "}", value)
    return path


Input = tuple[str, str, Path, dict[str, Any], Any]  # method, url, where, string schema, a body


def _inputs(document: dict[str, Any]) -> Iterator[Input]:
    """Every documented string input, in a body or a query string; with a query string, the body
    to send along (a valid one where the operation requires a body: it is read first)."""
    components = document["components"]["schemas"]
    for path, operations in document["paths"].items():
        for method, operation in operations.items():
            url = _url(path, operation)
            body = operation.get("requestBody", {})
            json_body = body.get("content", {}).get("application/json")
            if json_body is not None:
                for where, leaf in _leaves(json_body["schema"], components, ("body",)):
                    yield method, url, where, leaf, None
            for parameter in operation.get("parameters", []):
                if parameter["in"] != "query":
                    continue
                for where, leaf in _leaves(parameter["schema"], components, ("query", parameter["name"])):
                    yield (
                        method,
                        url,
                        where,
                        leaf,
                        VALID_BODIES[method, path] if body.get("required") else None,
                    )


def _nested(where: Path, value: Any) -> Any:
    """{"lines": [{"category": value}]} for ("lines", "0", "category")."""
    for part in reversed(where):
        value = [value] if part == "0" else {part: value}
    return value


def _send(client: FlaskClient, callers: dict[str, dict[str, str]], item: Input, value: Any) -> Any:
    method, url, where, _leaf, body = item
    caller = callers["operator" if url.startswith("/api/ops/") else "admin"]
    headers = caller | {"Idempotency-Key": uuid.uuid4().hex}  # payments require one
    if where[0] == "query":
        return client.open(url, method=method, headers=headers, query_string={where[1]: value}, json=body)
    return client.open(url, method=method, headers=headers, json=_nested(where[1:], value))


def _refusal(response: Any, where: Path) -> dict[str, str]:
    """The 422's error for `where` (other fields may be missing: only this one is looked at)."""
    assert response.status_code == 422, (where, response.status_code, response.get_json())
    errors = {error["field"]: error for error in response.get_json()["errors"]}
    field = ".".join(where)
    assert field in errors, (field, sorted(errors))
    return errors[field]


def _document(app: Flask) -> dict[str, Any]:
    document: dict[str, Any] = app.test_client().get("/api/openapi.json").get_json()
    return document


def test_every_documented_max_length_is_the_length_as_sent(
    app: Flask, callers: dict[str, dict[str, str]]
) -> None:
    """maxLength + 1 characters, the first of them U+0085 NEXT LINE (white space, trimmed): before
    the fix it was trimmed first and the rest, exactly maxLength, accepted."""
    client = app.test_client()
    checked = []
    for item in _inputs(_document(app)):
        method, url, where, leaf, _body = item
        if "maxLength" not in leaf:
            continue
        value = "\x85" + "a" * leaf["maxLength"]
        error = _refusal(_send(client, callers, item, value), where)
        assert error["type"] == "string_too_long", (method, url, where, error)
        checked.append(where)
    assert len(checked) > 50


def test_every_documented_date_is_an_iso_calendar_date(
    app: Flask, callers: dict[str, dict[str, str]]
) -> None:
    client = app.test_client()
    checked = {"query": 0, "body": 0}
    for item in _inputs(_document(app)):
        method, url, where, leaf, _body = item
        if leaf.get("format") != "date":
            continue
        for value in BAD_DATES:
            if where[0] == "query" and not isinstance(value, str):
                continue  # a query string holds text only
            error = _refusal(_send(client, callers, item, value), where)
            assert "YYYY-MM-DD" in error["message"], (method, url, where, value, error)
        checked[where[0]] += 1
    assert checked["query"] >= 12 and checked["body"] >= 8, checked


def test_every_documented_point_in_time_is_iso_with_an_offset(
    app: Flask, callers: dict[str, dict[str, str]]
) -> None:
    client = app.test_client()
    checked = 0
    for item in _inputs(_document(app)):
        method, url, where, leaf, _body = item
        if leaf.get("format") != "date-time":
            continue
        for value in BAD_TIMESTAMPS:
            if where[0] == "query" and not isinstance(value, str):
                continue
            error = _refusal(_send(client, callers, item, value), where)
            assert "YYYY-MM-DDTHH:MM:SS" in error["message"], (method, url, where, value, error)
        checked += 1
    assert checked >= 3  # the audit trail's from and to; a payment's paid_at


def test_text_at_its_maximum_as_sent_is_stored_trimmed(
    app: Flask, callers: dict[str, dict[str, str]]
) -> None:
    """A student's name of exactly maxLength (100) characters as sent, padded with IDEOGRAPHIC
    SPACE and NO-BREAK SPACE, is accepted and stored without them; so is a parent's address."""
    client, admin = app.test_client(), callers["admin"]
    student = {
        "admission_number": "\x85T-1\u2028",
        "first_name": "\u3000" + "a" * 98 + "\xa0",
        "last_name": "\xa0Lovelace\u3000",
        "date_of_birth": "2015-06-01",
        "grade_level": 5,
    }
    created = client.post("/api/students", json=student, headers=admin)
    assert created.status_code == 201, created.get_json()
    parent = {
        "email": "\u3000Pat.Parent@Example.org\xa0",
        "full_name": "\x85Pat Parent\u2028",
        "role": "parent",
        "password": PASSWORD,
    }
    made = client.post("/api/users", json=parent, headers=admin)
    assert made.status_code == 201, made.get_json()
    with app.app_context():
        row = db.session.get(Student, uuid.UUID(created.get_json()["id"]))
        assert row is not None
        assert (row.admission_number, row.first_name, row.last_name) == ("T-1", "a" * 98, "Lovelace")
        user = db.session.get(User, uuid.UUID(made.get_json()["id"]))
        assert user is not None and (user.email, user.full_name) == ("pat.parent@example.org", "Pat Parent")
    found = client.get("/api/students", query_string={"q": "\u3000Lovelace\xa0"}, headers=admin)
    assert [s["last_name"] for s in found.get_json()["items"]] == ["Lovelace"]


@pytest.mark.parametrize(
    ("method", "url", "where", "limit"),
    [
        ("post", "/api/students", ("body", "first_name"), 100),
        ("post", "/api/auth/login", ("body", "email"), 254),
        ("post", "/api/auth/password-reset", ("body", "email"), 254),
        ("get", "/api/students", ("query", "q"), 100),
    ],
)
def test_one_character_of_white_space_too_many_is_refused(
    app: Flask, callers: dict[str, dict[str, str]], method: str, url: str, where: Path, limit: int
) -> None:
    client = app.test_client()
    for space in ("\x85", "\u3000", "\xa0"):
        item: Input = (method, url, where, {}, None)
        error = _refusal(_send(client, callers, item, space + "a" * limit), where)
        assert error["type"] == "string_too_long", (url, where, space)
        assert error["message"] == f"String should have at most {limit} characters"
