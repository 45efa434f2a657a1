"""The ops console at phone width (375 px) in Debian's Chromium: every table becomes stacks of
label and value, each value with its column's name beside it, and nothing runs off the side."""

from __future__ import annotations

from flask import Flask
from playwright.sync_api import Page, ViewportSize, expect

from tests.conftest import make_operator
from tests.doctor.conftest import DROPPED_INDEX, Drifted
from tests.ops.test_console import ARTIFACTS, confirm, page, served, sign_in  # noqa: F401  (fixtures)

PHONE = ViewportSize(width=375, height=812)
TABLES = ("#deps", "#schema", "#fixes", "#backups", "#audit")

# Every body cell of every table: its label shown, saying its column's name, on the value's line and
# to its left, both inside the screen. The problems found, as sentences.
UNLABELLED_CELLS = """
() => {
  const problems = [];
  const shown = (node) => { const r = node.getBoundingClientRect(); return r.width > 0 && r.height > 0; };
  for (const table of document.querySelectorAll("#console table")) {
    const names = [...table.querySelectorAll("thead th")].map((th) => th.textContent);
    for (const row of table.querySelectorAll("tbody tr")) {
      row.querySelectorAll("td").forEach((td, i) => {
        const where = `${table.closest("[id]").id || "?"} row ${row.rowIndex} column ${names[i]}`;
        const label = td.querySelector(".cell-label");
        const value = td.querySelector(".cell-value");
        if (!label || !value || !shown(label)) return problems.push(`${where}: no label shown`);
        if (label.textContent !== names[i]) return problems.push(`${where}: labelled ${label.textContent}`);
        const l = label.getBoundingClientRect(), v = value.getBoundingClientRect();
        if (!shown(value)) return problems.push(`${where}: no value shown`);
        const beside = l.right <= v.left + 1 && l.top < v.bottom && v.top < l.bottom;
        if (!beside) problems.push(`${where}: not beside its value`);
        if (l.left < 0 || v.right > window.innerWidth + 1) problems.push(`${where}: off the screen`);
      });
    }
  }
  return problems;
}
"""
SIDEWAYS = """
() => [...document.querySelectorAll("body, .card, dialog[open]")]
  .filter((node) => node.scrollWidth > node.clientWidth + 1)
  .map((node) => `${node.id || node.className || node.tagName}: ${node.scrollWidth} > ${node.clientWidth}`)
"""


def test_tables_keep_their_labels_at_phone_width(
    served: tuple[str, Flask],  # noqa: F811  (the fixtures imported above)
    page: Page,  # noqa: F811
    drifted: Drifted,
) -> None:
    base, app = served
    sign_in(page, base, make_operator(app).email)
    page.click("#scan")
    page.locator(f'button[data-issue="{DROPPED_INDEX}"]').click()
    confirm(page, DROPPED_INDEX)
    expect(page.locator("#fixes")).to_contain_text(DROPPED_INDEX, timeout=30_000)  # a backup comes first
    page.click("#backup-now")
    expect(page.locator("#backup-made")).to_be_visible()
    for table in TABLES:  # every table has rows to judge
        expect(page.locator(f"{table} tbody tr").first).to_be_visible()
    expect(page.locator("#deps th").first).to_be_visible()  # at desktop width: a header row, no labels
    expect(page.locator("#deps .cell-label").first).to_be_hidden()

    page.set_viewport_size(PHONE)
    expect(page.locator("#deps th").first).to_be_hidden()
    assert page.evaluate(UNLABELLED_CELLS) == []
    assert page.evaluate("document.documentElement.scrollWidth") <= PHONE["width"]
    assert page.evaluate(SIDEWAYS) == []
    ARTIFACTS.mkdir(exist_ok=True)
    page.screenshot(path=str(ARTIFACTS / f"ops-console-{drifted.engine}-375.png"), full_page=True)

    page.click("#switch-toggle")  # the confirmation fits a phone too
    expect(page.locator("#confirm")).to_be_visible()
    box = page.locator("#confirm").bounding_box()
    assert box is not None and box["x"] >= 0 and box["x"] + box["width"] <= PHONE["width"]
    assert page.evaluate(SIDEWAYS) == []
    page.click("#confirm-cancel")
    expect(page.locator("#switch")).to_contain_text("allowed")
