"""The document matches the API: what it allows is accepted, what it refuses is refused. (The whole
surface is exercised by schemathesis with every check in tests/apidocs/test_openapi.py.)"""

from __future__ import annotations

import re
import uuid
from typing import Any

from tests.school import TODAY, World


def _spec(world: World) -> dict[str, Any]:
    spec: dict[str, Any] = world.client.get("/api/openapi.json").get_json()
    return spec


def test_integral_numbers_are_integers(world: World) -> None:
    body = {
        "admission_number": "A-INT",
        "first_name": "Ivy",
        "last_name": "Int",
        "date_of_birth": "2015-06-01",
        "grade_level": 5.0,
        "enrolled_on": str(TODAY),
    }
    created = world.client.post("/api/students", json=body, headers=world.as_("admin"))
    assert created.status_code == 201 and created.get_json()["grade_level"] == 5
    fraction = world.client.post(
        "/api/students",
        json={**body, "admission_number": "A-FRAC", "grade_level": 5.5},
        headers=world.as_("admin"),
    )
    assert fraction.status_code == 422
    assert fraction.get_json()["errors"][0]["field"] == "body.grade_level"


def test_decimals_take_two_place_numbers_or_strings(world: World) -> None:
    path = f"/api/classes/{world.ids['maths']}/assessments"

    def create(max_score: Any) -> Any:
        body = {"title": "Quiz", "category": "quiz", "max_score": max_score}
        return world.client.post(path, json=body, headers=world.as_("admin"))

    assert create(10.25).get_json()["max_score"] == 10.25
    assert create(15).get_json()["max_score"] == 15
    assert create("12.5").get_json()["max_score"] == 12.5
    for refused in (10.255, "1.234", "abc", "0", "1e3", 0.004, True):
        response = create(refused)
        assert response.status_code == 422, refused
        assert response.get_json()["errors"][0]["field"] == "body.max_score"
    schema = _spec(world)["components"]["schemas"]["AssessmentIn"]["properties"]["max_score"]
    number, text = schema["anyOf"]
    assert (number["minimum"], number["maximum"], number["multipleOf"]) == (0.01, 999999.99, 0.01)
    pattern = text["pattern"]
    assert re.fullmatch(pattern, "12.5") and not re.fullmatch(pattern, "1.234")
    assert not re.fullmatch(pattern, "0.00")


def test_text_that_the_api_refuses_is_refused_by_the_document(world: World) -> None:
    properties = _spec(world)["components"]["schemas"]["StudentIn"]["properties"]
    pattern = properties["first_name"]["pattern"]
    assert re.search(pattern, "Ada") and re.search(pattern, "  Ada ")
    for refused in ("", "   ", "\x85", "A\x00da"):
        assert not re.search(pattern, refused), repr(refused)
        body = {
            "admission_number": f"A-{uuid.uuid4().hex[:6]}",
            "first_name": refused,
            "last_name": "Blank",
            "date_of_birth": "2015-06-01",
            "grade_level": 5,
        }
        assert world.client.post("/api/students", json=body, headers=world.as_("admin")).status_code == 422


def test_patches_say_what_they_need(world: World) -> None:
    schemas = _spec(world)["components"]["schemas"]
    student = schemas["StudentUpdateIn"]
    assert student["minProperties"] == 1
    assert student["properties"]["first_name"]["type"] == "string"  # not nullable: null is refused
    assert {"type": "null"} in student["properties"]["left_on"]["anyOf"]  # nullable: null clears it
    response = world.client.patch(
        f"/api/students/{world.ids['alice']}", json={"first_name": None}, headers=world.as_("admin")
    )
    assert response.status_code == 422


def test_payments_declare_their_idempotency_key(world: World) -> None:
    operation = _spec(world)["paths"]["/api/invoices/{invoice_id}/payments"]["post"]
    [header] = [p for p in operation["parameters"] if p["in"] == "header"]
    assert (header["name"], header["required"]) == ("Idempotency-Key", True)
    assert header["schema"]["maxLength"] == 255


def test_a_weight_the_column_cannot_hold_is_refused_not_a_500(world: World) -> None:
    """Found by schemathesis on PostgreSQL: weights are NUMERIC(6, 2), at most 9999.99."""
    assessment = world.post(
        "admin",
        f"/api/classes/{world.ids['maths']}/assessments",
        {"title": "Quiz", "category": "quiz", "max_score": 10},
    )["id"]
    path = f"/api/assessments/{assessment}"
    too_heavy = world.client.patch(path, json={"weight": 10000}, headers=world.as_("admin"))
    assert too_heavy.status_code == 422 and too_heavy.get_json()["errors"][0]["field"] == "body.weight"
    heaviest = world.client.patch(path, json={"weight": 9999.99}, headers=world.as_("admin"))
    assert heaviest.status_code == 200 and heaviest.get_json()["weight"] == 9999.99
