"""The API document's tags: signing in and the account first, then the school records, then
operations, each with a one-line description, and the docs page (Swagger UI in Debian's Chromium)
shows its sections in that order."""

from __future__ import annotations

import threading
from collections.abc import Iterator
from typing import Any

import pytest
from playwright.sync_api import Page, expect, sync_playwright
from werkzeug.serving import make_server

from tests.ops.test_console import CHROMIUM, CHROMIUM_ARGS
from tests.school import World

ACCOUNT = ["auth", "mail", "users", "schools"]
RECORDS = [
    "students",
    "terms",
    "classes",
    "attendance",
    "grades",
    "reportcards",
    "fees",
    "health_records",
    "dashboard",
    "announcements",
    "assistant",
    "assistant_students",
    "bulk",
    "xero",
    "audit",
]
OPERATIONS = ["ops", "ops_console", "probes", "apidocs"]


def document(world: World) -> dict[str, Any]:
    response = world.client.get("/api/openapi.json")
    assert response.status_code == 200
    spec: dict[str, Any] = response.get_json()
    return spec


def test_tags_come_in_a_newcomers_order_with_one_line_each(world: World) -> None:
    tags = document(world)["tags"]
    assert [tag["name"] for tag in tags] == ACCOUNT + RECORDS + OPERATIONS
    for tag in tags:
        text = tag.get("description", "")
        assert 10 <= len(text) <= 110 and "\n" not in text and text.endswith("."), tag


def test_every_operation_carries_one_declared_tag(world: World) -> None:
    spec = document(world)
    declared = {tag["name"] for tag in spec["tags"]}
    used: set[str] = set()
    for path, operations in spec["paths"].items():
        for method, operation in operations.items():
            assert len(operation["tags"]) == 1 and operation["tags"][0] in declared, (method, path)
            used |= set(operation["tags"])
    assert used == declared  # no section without operations


@pytest.fixture
def docs_page(world: World) -> Iterator[Page]:
    server = make_server("127.0.0.1", 0, world.app, threaded=True)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        with sync_playwright() as playwright:
            browser = playwright.chromium.launch(executable_path=CHROMIUM, headless=True, args=CHROMIUM_ARGS)
            page = browser.new_page(viewport={"width": 1280, "height": 900})
            page.set_default_timeout(20_000)
            page.goto(f"http://127.0.0.1:{server.server_port}/api/docs")
            yield page
            browser.close()
    finally:
        server.shutdown()
        thread.join(timeout=10)


def test_the_docs_page_shows_the_sections_in_that_order(docs_page: Page) -> None:
    sections = docs_page.locator(".opblock-tag-section h3[data-tag]")
    expect(sections).to_have_count(len(ACCOUNT + RECORDS + OPERATIONS))
    assert [sections.nth(i).get_attribute("data-tag") for i in range(sections.count())] == (
        ACCOUNT + RECORDS + OPERATIONS
    )
    expect(sections.first).to_contain_text("Sign in and out")  # the description beside the name
