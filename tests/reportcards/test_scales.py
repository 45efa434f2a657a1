"""Grade scales: bands validated, one default per school, a class's own scale, and a scale that a
published report used keeps its bands and rounding."""

from __future__ import annotations

from typing import Any

import pytest

from tests.reportcards.helpers import LETTERS, graded_maths, make_scale, publish
from tests.school import World

SCALES = "/api/grade-scales"


def _results(world: World, who: str = "teacher") -> Any:
    response = world.client.get(f"/api/classes/{world.ids['maths']}/term-results", headers=world.as_(who))
    assert response.status_code == 200, response.get_json()
    return response.get_json()


@pytest.mark.parametrize(
    ("bands", "message"),
    [
        (
            [{"min": 50, "label": "Pass"}, {"min": 80, "label": "Merit"}, {"min": 0, "label": "Fail"}],
            "highest",
        ),
        ([{"min": 50, "label": "Pass"}, {"min": 10, "label": "Fail"}], "start at 0"),
        ([{"min": 50, "label": "Pass"}, {"min": 0, "label": "pass"}], "own label"),
        ([{"min": 101, "label": "Pass"}, {"min": 0, "label": "Fail"}], "less than or equal"),
        ([{"min": 0, "label": "All"}], "at least 2"),
        ([{"min": 50, "label": "Pass", "colour": "red"}, {"min": 0, "label": "Fail"}], "Extra inputs"),
        ([{"min": "fifty", "label": "Pass"}, {"min": 0, "label": "Fail"}], "decimal"),
    ],
)
def test_a_scale_with_bands_that_cannot_label_every_average_is_refused(
    world: World, bands: list[dict[str, Any]], message: str
) -> None:
    response = world.client.post(SCALES, json={"name": "Bad", "bands": bands}, headers=world.as_("admin"))
    assert response.status_code == 422
    assert message.lower() in str(response.get_json()["errors"]).lower()


def test_only_admins_manage_scales_and_parents_cannot_read_them(world: World) -> None:
    body = {"name": "Letters", "bands": LETTERS}
    for who, status in (("teacher", 403), ("parent", 403), ("anonymous", 401)):
        assert world.client.post(SCALES, json=body, headers=world.as_(who)).status_code == status
    scale = make_scale(world)
    assert world.client.get(SCALES, headers=world.as_("teacher")).get_json()["items"][0]["id"] == scale["id"]
    assert world.client.get(SCALES, headers=world.as_("parent")).status_code == 403
    # Another school's scale is not found, for reading and changing alike.
    other = world.as_("other_school_admin")
    assert world.client.get(f"{SCALES}/{scale['id']}", headers=other).status_code == 404
    assert world.client.patch(f"{SCALES}/{scale['id']}", json={"name": "x"}, headers=other).status_code == 404


def test_one_default_per_school_and_a_class_can_have_its_own(world: World) -> None:
    letters = make_scale(world)
    levels = make_scale(
        world,
        "Levels 1-9",
        default=True,
        bands=[{"min": 90, "label": "9"}, {"min": 50, "label": "5"}, {"min": 0, "label": "1"}],
        decimals=0,
    )
    scales = {s["name"]: s for s in world.client.get(SCALES, headers=world.as_("admin")).get_json()["items"]}
    assert scales["Letters"]["is_default"] is False and scales["Levels 1-9"]["is_default"] is True
    assert (
        world.client.post(
            SCALES, json={"name": "Letters", "bands": LETTERS}, headers=world.as_("admin")
        ).status_code
        == 409
    )

    graded_maths(world, [("graded", 15, 1)])  # 75%
    assert _results(world)["items"][0]["grade"] == "5"
    own = world.client.put(
        f"/api/classes/{world.ids['maths']}/grade-scale",
        json={"scale_id": letters["id"]},
        headers=world.as_("admin"),
    )
    assert own.get_json() == {"class_id": str(world.ids["maths"]), "scale_id": letters["id"], "own": True}
    results = _results(world)
    assert (results["scale_name"], results["items"][0]["grade"], results["items"][0]["average"]) == (
        "Letters",
        "B",
        75.0,
    )
    # The class's own scale cannot be deleted while the class uses it.
    assert world.client.delete(f"{SCALES}/{letters['id']}", headers=world.as_("admin")).status_code == 409
    back = world.client.put(
        f"/api/classes/{world.ids['maths']}/grade-scale", json={"scale_id": None}, headers=world.as_("admin")
    )
    assert back.get_json()["scale_id"] == levels["id"] and back.get_json()["own"] is False
    assert world.client.delete(f"{SCALES}/{letters['id']}", headers=world.as_("admin")).status_code == 204


def test_rounding_is_half_up_to_the_scales_places_and_the_grade_read_from_the_rounded_average(
    world: World,
) -> None:
    make_scale(world, bands=[{"min": 79.5, "label": "A"}, {"min": 0, "label": "B"}], decimals=0)
    graded_maths(world, [("graded", "15.9", 1)])  # 79.5% exactly
    item = _results(world)["items"][0]
    assert (item["average"], item["grade"]) == (80.0, "A")
    scale_id = world.client.get(SCALES, headers=world.as_("admin")).get_json()["items"][0]["id"]
    patched = world.client.patch(f"{SCALES}/{scale_id}", json={"decimals": 2}, headers=world.as_("admin"))
    assert patched.status_code == 200, patched.get_json()
    assert _results(world)["items"][0]["average"] == 79.5


def test_a_scale_used_by_a_published_report_keeps_its_bands_and_rounding(world: World) -> None:
    scale = make_scale(world)
    graded_maths(world, [("graded", 15, 1)])
    assert publish(world).status_code == 200
    url = f"{SCALES}/{scale['id']}"
    assert world.client.get(url, headers=world.as_("admin")).get_json()["locked"] is True
    changed = [{"min": 50, "label": "Pass"}, {"min": 0, "label": "Fail"}]
    for body in ({"bands": changed}, {"decimals": 2}):
        response = world.client.patch(url, json=body, headers=world.as_("admin"))
        assert response.status_code == 409 and "new scale" in response.get_json()["detail"]
    assert world.client.delete(url, headers=world.as_("admin")).status_code == 409
    # Renaming, or sending the same bands again, changes no published report: allowed.
    assert (
        world.client.patch(
            url, json={"name": "Letters (2026)", "bands": LETTERS}, headers=world.as_("admin")
        ).status_code
        == 200
    )
    card = world.client.get(
        f"/api/terms/{world.ids['term']}/report-cards", headers=world.as_("admin")
    ).get_json()["items"][0]
    report = world.client.get(f"/api/report-cards/{card['id']}", headers=world.as_("admin")).get_json()
    assert report["content"]["classes"][0]["scale_name"] == "Letters"  # frozen as published


def test_the_default_scale_cannot_be_deleted_while_it_is_the_default(world: World) -> None:
    letters = make_scale(world)
    assert world.client.delete(f"{SCALES}/{letters['id']}", headers=world.as_("admin")).status_code == 409
    make_scale(world, "Levels", bands=[{"min": 50, "label": "Pass"}, {"min": 0, "label": "Fail"}])
    assert world.client.delete(f"{SCALES}/{letters['id']}", headers=world.as_("admin")).status_code == 204


def test_a_locked_scale_takes_the_same_bands_written_another_way(world: World) -> None:
    scale = make_scale(world)
    graded_maths(world, [("graded", 15, 1)])
    publish(world)
    same = [{"min": f"{band['min']}.0", "label": band["label"]} for band in LETTERS]
    url = f"{SCALES}/{scale['id']}"
    assert (
        world.client.patch(url, json={"bands": same, "decimals": 1}, headers=world.as_("admin")).status_code
        == 200
    )
    relabelled = [dict(band, label=band["label"].lower()) for band in LETTERS]
    assert world.client.patch(url, json={"bands": relabelled}, headers=world.as_("admin")).status_code == 409


@pytest.mark.parametrize("label", ["P\u202e", "F\n=1", "A\x00", "\u200b"])
def test_scale_names_and_labels_are_one_visible_line(world: World, label: str) -> None:
    bands = [{"min": 50, "label": label}, {"min": 0, "label": "Fail"}]
    response = world.client.post(SCALES, json={"name": "Odd", "bands": bands}, headers=world.as_("admin"))
    assert response.status_code == 422
    named = world.client.post(SCALES, json={"name": label, "bands": LETTERS}, headers=world.as_("admin"))
    assert named.status_code == 422
