"""The API describes itself: a valid OpenAPI 3.1 document covering every route, a docs page that
needs nothing from outside, and schemathesis run in-process over every operation."""

from __future__ import annotations

import json
import os
import re
from typing import Any

import pytest
import schemathesis
from hypothesis import HealthCheck, given, settings
from openapi_spec_validator import validate
from schemathesis.checks import CHECKS as CHECK_REGISTRY
from schemathesis.checks import load_all_checks
from schemathesis.config import SchemathesisConfig

from backend.config import PROJECT_ROOT
from tests.school import TODAY, World


def test_document_is_valid_and_covers_every_route(world: World) -> None:
    response = world.client.get("/api/openapi.json")
    assert response.status_code == 200
    spec = response.get_json()
    validate(spec)
    assert spec["openapi"] == "3.1.0"
    assert spec["components"]["securitySchemes"]["bearerAuth"] == {
        "type": "http",
        "scheme": "bearer",
        "bearerFormat": "JWT",
    }
    documented = {(method.upper(), path) for path, ops in spec["paths"].items() for method in ops}
    routes = set()
    for rule in world.app.url_map.iter_rules():
        path = re.sub(
            r"<(?:[^:<>]+:)?(\w+)>", r"{\1}", rule.rule
        )  # <uuid:id>, <any(a, b):kind> -> {id}, {kind}
        routes |= {(method, path) for method in rule.methods - {"HEAD", "OPTIONS"}}
    assert routes == documented


def test_operations_carry_security_and_problems(world: World) -> None:
    spec = world.client.get("/api/openapi.json").get_json()
    login = spec["paths"]["/api/auth/login"]["post"]
    assert login["security"] == []
    assert {"400", "415", "422", "429"} <= login["responses"].keys()
    student = spec["paths"]["/api/students/{student_id}"]["patch"]
    assert "security" not in student  # the document-wide bearer requirement applies
    assert {"200", "401", "403", "404", "422"} <= student["responses"].keys()
    problem = student["responses"]["404"]["content"]["application/problem+json"]["schema"]
    assert problem == {"$ref": "#/components/schemas/Problem"}
    assert student["requestBody"]["content"]["application/json"]["schema"] == {
        "$ref": "#/components/schemas/StudentUpdateIn"
    }
    params = {p["name"]: p for p in spec["paths"]["/api/students"]["get"]["parameters"]}
    assert {"limit", "cursor", "status", "grade_level", "class_id", "q"} <= params.keys()


def test_docs_page_is_served_by_the_app(world: World) -> None:
    page = world.client.get("/api/docs")
    assert page.status_code == 200 and page.mimetype == "text/html"
    html = page.get_data(as_text=True)
    assert "http" not in html.replace("http-equiv", "")  # no outside URL: it works offline
    assert "script-src 'self'" in page.headers["Content-Security-Policy"]
    for asset in ("swagger-ui-bundle.js", "swagger-ui.css", "init.js"):
        assert f"/api/docs/assets/{asset}" in html
        response = world.client.get(f"/api/docs/assets/{asset}")
        assert response.status_code == 200 and len(response.data) > 50
    assert "/api/openapi.json" in world.client.get("/api/docs/assets/init.js").get_data(as_text=True)
    assert world.client.get("/api/docs/assets/../../config.py").status_code == 404


@pytest.fixture
def known_ids(world: World) -> dict[str, str]:
    maths, alice = world.ids["maths"], str(world.ids["alice"])
    record = world.client.put(
        f"/api/classes/{maths}/attendance",
        query_string={"date": str(TODAY)},
        json={"records": [{"student_id": alice, "status": "present"}]},
        headers=world.as_("admin"),
    ).get_json()["items"][0]["id"]
    assessment = world.post(
        "admin", f"/api/classes/{maths}/assessments", {"title": "Quiz", "category": "quiz", "max_score": 10}
    )["id"]
    return {
        "student_id": alice,
        "class_id": str(maths),
        "user_id": str(world.accounts["teacher"].user_id),
        "link_id": str(world.ids["link"]),
        "record_id": record,
        "assessment_id": assessment,
        "entry_id": world.post(
            "admin", "/api/assistant/knowledge", {"kind": "faq", "title": "Hours", "body": "8:45 to 15:15."}
        )["id"],
    }


# CI replays the same generated inputs every run, so its verdict is about the code; local runs draw
# new inputs each time and keep finding new cases (a NUL character was one).
DERANDOMIZE = os.environ.get("CI") == "true"
# Every check schemathesis has, the ones that find valid requests rejected included.
load_all_checks()
CHECKS = CHECK_REGISTRY.get_all()
# Rules no JSON schema can state. A request the schema allows but that breaks one of these is a 422
# naming the field; positive_data_acceptance accepts that answer for these operations only.
BUSINESS_RULES: dict[str, str] = {
    "GET /api/students": "the cursor must be one the API issued",
    "GET /api/users": "the cursor must be one the API issued",
    "GET /api/classes": "the cursor must be one the API issued",
    "GET /api/invoices": "the cursor must be one the API issued",
    "GET /api/audit-events": "the cursor must be one the API issued; from before to",
    "GET /api/assistant/knowledge": "the cursor must be one the API issued",
    "GET /api/students/{student_id}/attendance": "the cursor must be one the API issued; from before to",
    "POST /api/students": "born in the past, enrolled after birth",
    "PATCH /api/students/{student_id}": "dates in order (born, enrolled, left); status and left_on agree",
    "POST /api/students/{student_id}/guardians": "user_id is an active parent of the school",
    "POST /api/terms": "starts_on before ends_on",
    "POST /api/classes": "term_id and teacher_id are the school's",
    "PATCH /api/classes/{class_id}": "teacher_id is an active teacher of the school",
    "POST /api/classes/{class_id}/enrollments": "student_id is an active student of the school",
    "PUT /api/classes/{class_id}/attendance": "each student is enrolled; no future date",
    "PUT /api/assessments/{assessment_id}/grades": "students enrolled; a score only when graded, <= max",
    "POST /api/invoices": "student_id is the school's; due_date not before issue_date",
    "POST /api/invoices/{invoice_id}/payments": "the Idempotency-Key names one request body",
    "POST /api/users": "the password policy (length, not a common password); a deliverable-looking email",
    "POST /api/auth/password": "the current password is right; the new one meets the policy",
    "POST /api/auth/invitations/accept": "the token is one an invitation email carried",
    "POST /api/auth/password-reset/confirm": "the token is one a reset email carried",
    "POST /api/notifications/unsubscribe": "the token is one an email's link carried",
    "POST /api/imports/{kind}": "the CSV's header and rows (every problem is reported)",
    "POST /api/classes/{class_id}/enrollments/bulk": "each id is an active student of the school",
    "POST /api/classes/{class_id}/promote": "to_class_id is another class of the school",
    "GET /api/reports/attendance/rates": "from on or before to, at most 366 days apart",
    "GET /api/reports/attendance/rates.csv": "from on or before to, at most 366 days apart",
    "PATCH /api/grade-scales/{scale_id}": "bands highest first, each label its own, the last from 0",
    "POST /api/terms/{term_id}/report-cards/publish": "class_id with scope class only, grade_level with year",
    "GET /api/announcements": "the cursor must be one the API issued",
    "GET /api/me/announcements": "the cursor must be one the API issued",
    "GET /api/announcements/{announcement_id}/receipts/not-read": "the cursor must be one the API issued",
    "PATCH /api/announcements/{announcement_id}": "a new audience comes whole (audience with its target); "
    "publish_at in the future; after publishing, only pinned_until",
}


def _keyed_operations() -> list[str]:
    """Operations that take an Idempotency-Key: generated keys repeat with other bodies (a 422)."""
    document = json.loads((PROJECT_ROOT / "tests" / "contracts" / "openapi.json").read_text())
    return [
        f"{method.upper()} {path}"
        for path, item in document["paths"].items()
        for method, operation in item.items()
        if any(parameter.get("name") == "Idempotency-Key" for parameter in operation.get("parameters", []))
    ]


for _name in _keyed_operations():
    BUSINESS_RULES.setdefault(_name, "the Idempotency-Key names one request")

# Of those, the ones whose token is checked first: an unknown one is a 400 (no field to name).
TOKEN_ROUTES = frozenset(name for name in BUSINESS_RULES if "token is one" in BUSINESS_RULES[name])
POSITIVE_DEFAULT = ["2xx", "3xx", "401", "403", "404", "409", "429"]
CONFIG = SchemathesisConfig.from_dict(
    {
        # The document says every text refuses NUL (a pattern); generate what it says.
        "generation": {"allow-x00": False},
        "operations": [
            {
                "include-name": name,
                "checks": {
                    "positive_data_acceptance": {
                        "expected-statuses": [
                            *POSITIVE_DEFAULT,
                            "422",
                            *(["400"] if name in TOKEN_ROUTES else []),
                        ]
                    }
                },
            }
            for name in BUSINESS_RULES
        ],
    }
)
# Logout and logout-all revoke the token the run signs in with; they are tested on their own.
SKIPPED = re.compile(r"^/api/auth/logout")


def test_every_operation_answers_within_its_schema(world: World, known_ids: dict[str, str]) -> None:
    """schemathesis, in-process, over every operation as a signed-in admin; ids in paths are the
    school's real objects so that success paths run too. No 5xx, nothing outside the schema."""
    schema = schemathesis.openapi.from_wsgi("/api/openapi.json", world.app, config=CONFIG)
    failures: dict[str, str] = {}
    operations = [result.ok() for result in schema.get_all_operations()]
    assert len(operations) >= 40
    for operation in operations:
        if SKIPPED.match(operation.path):
            continue

        @settings(
            max_examples=25,
            deadline=None,
            database=None,
            derandomize=DERANDOMIZE,
            suppress_health_check=list(HealthCheck),
        )
        @given(case=operation.as_strategy())
        def exercise(case: Any) -> None:
            if case.path_parameters:
                case.path_parameters = {k: known_ids.get(k, v) for k, v in case.path_parameters.items()}
            case.call_and_validate(headers=world.as_("admin"), checks=CHECKS)

        try:
            exercise()
        except (Exception, BaseExceptionGroup) as error:  # noqa: BLE001 - gather every failing operation
            failures[f"{operation.method.upper()} {operation.path}"] = str(error)[:2000]
    assert failures == {}
