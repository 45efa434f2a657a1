"""Every create can be retried safely: a POST that answers 201, or that creates rows while answering
200, is `@idempotent` (an optional `Idempotency-Key`; payments require one), keyed by the caller's
school, and the OpenAPI document says so. The behaviour itself is tested with the assessments
(tests/grades/test_idempotent_assessments.py) and the payments (tests/fees)."""

from __future__ import annotations

import re
import uuid
from typing import Any

from flask import Blueprint, Flask, Response
from werkzeug.routing import Rule

from backend.core.api import api
from backend.core.idempotency import idempotent, key_required
from backend.core.markers import route_spec
from backend.tenancy import requires
from tests.conftest import AppFactory, auth_headers, make_operator, make_school, make_user

# POSTs that answer 201 but cannot take a key, and why.
NOT_IDEMPOTENT = {
    "ops.create_backup": "an operator's (keys are per school); a backup is a file, not a row",
}
# POSTs that create rows while answering 200.
CREATES_ANSWERING_200 = {
    "classes.enroll_many": "enrollments",
    "classes.promote": "enrollments in the next class",
    "bulk.import_csv": "the file's records (unless a dry run)",
    "fees.reverse_payment": "a reversal",
}
KEY_REQUIRED = {"fees.create_payment"}
_ARGUMENT = re.compile(r"<(?:(?P<converter>[^:<>]+):)?(?P<name>\w+)>")


def _posts(app: Flask) -> list[Rule]:
    return [rule for rule in app.url_map.iter_rules() if "POST" in (rule.methods or set())]


def _idempotent(app: Flask) -> dict[str, Rule]:
    return {
        rule.endpoint: rule
        for rule in _posts(app)
        if route_spec(app.view_functions[rule.endpoint]).idempotent
    }


def test_every_create_takes_an_idempotency_key(app: Flask) -> None:
    creates = {
        rule.endpoint
        for rule in _posts(app)
        if (doc := route_spec(app.view_functions[rule.endpoint]).api) is not None and doc.status == 201
    }
    assert set(NOT_IDEMPOTENT) <= creates, "an exemption names a route that is gone or no longer a create"
    missing = sorted((creates - set(NOT_IDEMPOTENT) | set(CREATES_ANSWERING_200)) - set(_idempotent(app)))
    assert missing == [], f"creates without @idempotent (or a reason in NOT_IDEMPOTENT): {missing}"


def test_idempotent_routes_are_a_school_users(app: Flask) -> None:
    """Keys are per school: the route must be guarded by a school permission (never public, never ops)."""
    for endpoint in _idempotent(app):
        spec = route_spec(app.view_functions[endpoint])
        assert not spec.public and spec.permission, endpoint
        assert not spec.permission.startswith("ops."), endpoint


def test_only_payments_require_the_key(app: Flask) -> None:
    required = {endpoint for endpoint in _idempotent(app) if key_required(app.view_functions[endpoint])}
    assert required == KEY_REQUIRED


def _url(rule: Rule) -> str:
    def argument(match: re.Match[str]) -> str:
        converter = match["converter"] or ""
        if converter.startswith("any("):
            return converter[4:].split(",")[0].strip()
        return str(uuid.uuid4())

    return _ARGUMENT.sub(argument, rule.rule)


def test_the_permission_is_checked_before_the_key(make_app: AppFactory) -> None:
    """`@idempotent` sits below `@requires`: a caller without a school (an operator) is refused with
    403 before any key is looked at, never a 500 from a key that has no school to belong to."""
    app = make_app()
    client = app.test_client()
    headers = auth_headers(client, make_operator(app)) | {"Idempotency-Key": "operator-key"}
    for endpoint, rule in sorted(_idempotent(app).items()):
        # JSON to every route, the CSV imports too: the body's type is judged after the permission.
        response = client.post(_url(rule), json={}, headers=headers)
        assert response.status_code == 403, (endpoint, response.get_json())


def _header(operation: dict[str, Any]) -> dict[str, Any] | None:
    found = [p for p in operation["parameters"] if p["in"] == "header" and p["name"] == "Idempotency-Key"]
    return found[0] if found else None


def test_the_document_shows_the_key_where_it_is_taken(app: Flask) -> None:
    document = app.test_client().get("/api/openapi.json").get_json()
    idempotent = set(_idempotent(app))
    for path, operations in document["paths"].items():
        for method, operation in operations.items():
            endpoint = operation["operationId"]
            header = _header(operation)
            name = next((e for e in idempotent if e.replace(".", "_") == endpoint and method == "post"), None)
            if name is None:
                assert header is None, f"{method.upper()} {path} documents a key it does not take"
                continue
            assert header is not None, f"{method.upper()} {path} takes a key the document does not show"
            assert header["required"] is (name in KEY_REQUIRED), path
            assert {"400", "409", "422"} <= set(operation["responses"]), path


def _with_route(make_app: AppFactory, view: Any, **declaration: Any) -> tuple[Flask, dict[str, str]]:
    """An app with `POST /api/_idempotent` (an admin's, `@idempotent`), and an admin's headers."""
    app = make_app()
    bp = Blueprint(f"idempotent_{uuid.uuid4().hex[:8]}", __name__)
    route = requires("students.manage")(idempotent(api(**declaration)(view)))
    bp.add_url_rule("/api/_idempotent", view_func=route, methods=["POST"])
    app.register_blueprint(bp)
    client = app.test_client()
    return app, auth_headers(client, make_user(app, make_school(app), "admin"))


def test_a_204_replays_as_a_204(make_app: AppFactory) -> None:
    calls: list[int] = []
    app, headers = _with_route(make_app, lambda: calls.append(1), status=204)
    client, headers = app.test_client(), headers | {"Idempotency-Key": "no-content"}
    first, again = (client.post("/api/_idempotent", headers=headers) for _ in range(2))
    assert (first.status_code, first.data, again.status_code, again.data) == (204, b"", 204, b"")
    assert again.headers["Idempotent-Replayed"] == "true" and calls == [1]


def test_only_json_answers_can_be_stored(make_app: AppFactory) -> None:
    """A stream or a file cannot be replayed: such a route is a programming error (500), and
    without a key it answers as usual."""
    csv = Response(iter([b"a\r\n"]), mimetype="text/csv")
    app, headers = _with_route(make_app, lambda: csv, media_type="text/csv")
    client = app.test_client()
    refused = client.post("/api/_idempotent", headers=headers | {"Idempotency-Key": "a-file"})
    assert refused.status_code == 500 and refused.get_json()["code"] == "internal_error"
    assert client.post("/api/_idempotent", headers=headers).status_code == 200
