"""The code's own contracts, checked: routes declare their shapes once and return values; services
take the caller as an argument; tenant filters have one spelling; CORS exposes what is sent."""

from __future__ import annotations

import ast
import re
import uuid
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
from flask import Blueprint, Flask, Response

from backend.config import PROJECT_ROOT
from backend.core.api import api
from backend.core.markers import public, route_spec
from backend.core.pagination import Items, Page
from backend.core.validation import OutputModel
from tests.conftest import AppFactory

BACKEND = PROJECT_ROOT / "backend"
FEATURES = [path for path in BACKEND.iterdir() if (path / "__init__.py").exists() and path.name != "core"]


def _flask_names(path: Path) -> set[str]:
    """What a module imports from flask."""
    names: set[str] = set()
    for node in ast.walk(ast.parse(path.read_text())):
        if isinstance(node, ast.ImportFrom) and node.module == "flask":
            names |= {alias.name for alias in node.names}
    return names


def test_services_never_read_the_caller_from_flask() -> None:
    """The caller reaches a service as its `AuthContext` argument, never through `g`, `request`, the
    request context or `tenancy.current_*()` (routes read it once and pass it on). The audit recorder
    reads the request's id, IP and user agent (where, not who): that is allowed, and
    `auth/access.py` is where the caller is set."""
    allowed = {BACKEND / "audit" / "service.py", BACKEND / "auth" / "access.py"}
    services = [
        path
        for feature in FEATURES
        for path in feature.rglob("*.py")
        if not path.name.endswith("routes.py") and path.name not in {"__init__.py", "cli.py"}
    ]
    assert len(services) > 60
    lookups = re.compile(r"\b(current_auth|current_caller|current_operator|request_context)\(")
    readers = {
        str(path.relative_to(PROJECT_ROOT)): names
        for path in services
        if path not in allowed
        and (names := (_flask_names(path) & {"g", "request"}) | set(lookups.findall(path.read_text())))
    }
    assert readers == {}


def test_tenant_scoping_has_one_spelling() -> None:
    """Every school filter is `auth.scoped(Model)` or `auth.owns(Model)`; none is written by hand."""
    hand_written = re.compile(r"\.school_id\s*==\s*auth\.school_id")
    offenders = [
        f"{path.relative_to(PROJECT_ROOT)}:{number}"
        for path in BACKEND.rglob("*.py")
        for number, line in enumerate(path.read_text().splitlines(), 1)
        if hand_written.search(line)
    ]
    assert offenders == []


def test_every_route_declares_its_shape_and_its_access(app: Flask) -> None:
    for rule in app.url_map.iter_rules():
        spec = route_spec(app.view_functions[rule.endpoint])
        assert spec.api is not None, f"{rule.rule} has no @api declaration"
        assert spec.public or spec.permission, f"{rule.rule} is neither public nor guarded"


# --- @api: one way from a value to a response -------------------------------------------------------


class ThingOut(OutputModel):
    id: uuid.UUID
    name: str


@dataclass
class Thing:
    """Stands in for an ORM row: read by attribute, with more attributes than the output shows."""

    id: uuid.UUID
    name: str
    secret: str = "never shown"


def _app(make_app: AppFactory, view: Any, **declaration: Any) -> Flask:
    app = make_app()
    bp = Blueprint(f"contract_{uuid.uuid4().hex[:8]}", __name__)
    bp.add_url_rule("/api/_contract", view_func=public(api(**declaration)(view)), methods=["GET"])
    app.register_blueprint(bp)
    return app


THING = Thing(uuid.UUID(int=1), "chalk")


@pytest.mark.parametrize(
    ("declaration", "value", "status", "body"),
    [
        ({"response": ThingOut}, THING, 200, {"id": str(THING.id), "name": "chalk"}),
        ({"response": ThingOut, "status": 201}, THING, 201, {"id": str(THING.id), "name": "chalk"}),
        (
            {"response": Page[ThingOut]},
            Page([THING], "next"),
            200,
            {"items": [{"id": str(THING.id), "name": "chalk"}], "next_cursor": "next"},
        ),
        (
            {"response": Items[ThingOut]},
            Items([THING, THING]),
            200,
            {"items": [{"id": str(THING.id), "name": "chalk"}] * 2},
        ),
    ],
)
def test_a_returned_value_is_serialized_as_declared(
    make_app: AppFactory, declaration: dict[str, Any], value: Any, status: int, body: Any
) -> None:
    response = _app(make_app, lambda: value, **declaration).test_client().get("/api/_contract")
    assert response.status_code == status
    assert response.mimetype == "application/json"
    assert response.get_json() == body
    assert "never shown" not in response.get_data(as_text=True)


def test_headers_come_with_the_value_and_no_content_is_204(make_app: AppFactory) -> None:
    with_headers = _app(make_app, lambda: (THING, {"Location": "/there"}), response=ThingOut, status=201)
    response = with_headers.test_client().get("/api/_contract")
    assert (response.status_code, response.headers["Location"]) == (201, "/there")
    empty = _app(make_app, lambda: None, status=204).test_client().get("/api/_contract")
    assert (empty.status_code, empty.data) == (204, b"")


@pytest.mark.parametrize(
    ("declaration", "value"),
    [
        (
            {"response": ThingOut},
            Response("{}", mimetype="application/json"),
        ),  # a Response bypasses the shape
        ({"status": 204}, THING),  # a body where none is declared
        ({"response": ThingOut}, {"id": "not-a-uuid", "name": "x"}),  # a value outside the shape
    ],
)
def test_a_value_that_breaks_the_declaration_is_a_500_not_a_wrong_body(
    make_app: AppFactory, declaration: dict[str, Any], value: Any
) -> None:
    response = _app(make_app, lambda: value, **declaration).test_client().get("/api/_contract")
    assert response.status_code == 500
    assert response.get_json()["code"] == "internal_error"


def test_a_route_without_a_body_must_say_204() -> None:
    with pytest.raises(ValueError, match="204"):
        api()


# --- CORS ---------------------------------------------------------------------------------------------


def test_cors_exposes_exactly_the_headers_the_api_sends(make_app: AppFactory) -> None:
    origin = "https://app.example.org"
    client = make_app(CORS_ORIGINS=origin, RATE_LIMIT_DEFAULT="50 per minute").test_client()
    traceparent = "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01"
    response = client.get("/api/health", headers={"Origin": origin, "traceparent": traceparent})
    exposed = {name.strip() for name in response.headers["Access-Control-Expose-Headers"].split(",")}
    assert exposed == {
        "X-Request-ID",
        "traceparent",
        "Retry-After",
        "Location",
        "Idempotent-Replayed",
        "X-RateLimit-Limit",
        "X-RateLimit-Remaining",
        "X-RateLimit-Reset",
        "X-Report-Count",  # a term's ZIP of report cards: how many PDFs are coming
    }
    sent = set(response.headers.keys())
    assert {
        "X-Request-ID",
        "traceparent",
        "X-RateLimit-Limit",
        "X-RateLimit-Remaining",
        "X-RateLimit-Reset",
    } <= sent
    assert not {name for name in sent if name.startswith("RateLimit-")}  # the draft names are never sent
