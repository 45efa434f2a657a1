"""The ops console end to end: a real HTTP server on 127.0.0.1 and Debian's Chromium driven by
Playwright (never a downloaded browser). Screenshots go to test-artifacts/."""

from __future__ import annotations

import threading
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import pytest
from flask import Flask
from playwright.sync_api import Page, expect, sync_playwright
from werkzeug.serving import make_server

from backend import jobs
from backend.backups.files import local_backups
from backend.config import PROJECT_ROOT
from backend.core.extensions import db
from tests.conftest import PASSWORD, Account, AppFactory, auth_headers, make_operator, make_school, make_user
from tests.doctor.conftest import DROPPED_INDEX, Drifted

CHROMIUM = "/usr/bin/chromium"
ARTIFACTS = PROJECT_ROOT / "test-artifacts"
CHROMIUM_ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-dev-shm-usage",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]


@contextmanager
def serving(app: Flask) -> Iterator[tuple[str, Flask]]:
    """`app` on a real HTTP server on 127.0.0.1: its base URL and the app."""
    server = make_server("127.0.0.1", 0, app, threaded=True)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_port}", app
    finally:
        server.shutdown()
        thread.join(timeout=10)


@pytest.fixture
def served(drifted: Drifted) -> Iterator[tuple[str, Flask]]:
    with serving(drifted.app()) as base_and_app:
        yield base_and_app


@pytest.fixture
def page() -> Iterator[Page]:
    assert Path(CHROMIUM).exists(), "Debian's chromium is required (scripts/test.sh installs it)"
    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=CHROMIUM, headless=True, args=CHROMIUM_ARGS)
        context = browser.new_context(viewport={"width": 1280, "height": 900})
        page = context.new_page()
        page.set_default_timeout(20_000)
        yield page
        browser.close()


def sign_in(page: Page, base: str, email: str, password: str = PASSWORD) -> None:
    page.goto(f"{base}/ops")
    page.fill("#email", email)
    page.fill("#password", password)
    page.click("#sign-in-form button[type=submit]")


def confirm(page: Page, *says: str) -> None:
    """The change's dialog is open and says what will change; the operator confirms it."""
    dialog = page.locator("#confirm")
    expect(dialog).to_be_visible()
    for text in says:
        expect(dialog).to_contain_text(text)
    page.click("#confirm-ok")
    expect(dialog).to_be_hidden()


def posts(page: Page) -> list[str]:
    """The paths of the POST requests the page sends from now on."""
    sent: list[str] = []
    page.on("request", lambda r: sent.append(r.url.split("/", 3)[3]) if r.method == "POST" else None)
    return sent


def fixing_switched_on(app: Flask, operator: Account) -> bool:
    """The switch as the API reports it (not as the page shows it)."""
    client = app.test_client()
    health = client.get("/api/ops/db-health", headers=auth_headers(client, operator)).get_json()
    return bool(health["switch"]["by_switch"])


def test_an_operator_fixes_drift_and_takes_a_backup(
    served: tuple[str, Flask], page: Page, drifted: Drifted
) -> None:
    base, app = served
    problems: list[str] = []  # script errors and CSP violations (refused requests are expected: a 401)
    page.on(
        "console",
        lambda m: (
            problems.append(m.text) if m.type == "error" and "Failed to load resource" not in m.text else None
        ),
    )
    page.on("pageerror", lambda error: problems.append(str(error)))
    missing: list[str] = []
    page.on("response", lambda r: missing.append(r.url) if r.status == 404 else None)
    operator = make_operator(app)

    sign_in(page, base, operator.email, "wrong-password-123")
    expect(page.locator("#sign-in-error")).to_have_text("Wrong email or password.")

    sign_in(page, base, operator.email)
    expect(page.locator("#who-email")).to_have_text(operator.email)
    expect(page.locator("#deps")).to_contain_text("database")
    expect(page.locator("#schema")).to_contain_text("No scan yet")
    expect(page.locator("#backups")).to_contain_text("No backup files yet")
    expect(page.locator("#audit")).to_contain_text("(platform)")

    page.click("#scan")
    fix = page.locator(f'button[data-issue="{DROPPED_INDEX}"]')
    expect(fix).to_be_visible()
    expect(page.locator("#schema")).to_contain_text("View draft")
    fix.click()
    confirm(page, DROPPED_INDEX, "A fresh backup of the database is taken first")
    expect(fix).to_have_count(0)  # the index is back: the issue is gone from the re-scan
    expect(page.locator("#fixes")).to_contain_text(DROPPED_INDEX, timeout=30_000)  # a backup comes first
    expect(page.locator("#fixes")).to_contain_text("ok", timeout=30_000)

    page.get_by_role("button", name="View draft").first.click()
    expect(page.locator("#draft")).to_contain_text("DRAFT by `flask db doctor`")

    page.click("#backup-now")
    expect(page.locator("#backup-made")).to_contain_text("Backup written:")
    names = [backup.name for backup in local_backups(drifted.folder / "backups")]
    assert len(names) == 2  # one before the fix, one on demand
    for name in names:
        expect(page.locator("#backups")).to_contain_text(name)

    page.click("#switch-toggle")
    confirm(page, "Switch fixing off?")
    expect(page.locator("#switch")).to_contain_text("switched off")

    ARTIFACTS.mkdir(exist_ok=True)
    page.screenshot(path=str(ARTIFACTS / f"ops-console-{drifted.engine}.png"), full_page=True)
    page.set_viewport_size({"width": 390, "height": 844})  # a phone
    assert page.evaluate("document.documentElement.scrollWidth <= window.innerWidth + 1")
    page.screenshot(path=str(ARTIFACTS / f"ops-console-{drifted.engine}-phone.png"), full_page=True)

    page.click("#sign-out")
    expect(page.locator("#sign-in-error")).to_have_text("Signed out.")
    assert problems == [] and missing == [], (problems, missing)


def test_a_fix_is_confirmed_first_and_cancelling_changes_nothing(
    served: tuple[str, Flask], page: Page, drifted: Drifted
) -> None:
    base, app = served
    sign_in(page, base, make_operator(app).email)
    page.click("#scan")
    fix = page.locator(f'button[data-issue="{DROPPED_INDEX}"]')
    expect(fix).to_be_visible()
    sent = posts(page)
    dialog = page.locator("#confirm")

    fix.click()
    expect(dialog).to_be_visible()
    expect(dialog).to_contain_text("Fix this issue?")
    expect(dialog).to_contain_text(DROPPED_INDEX)  # which issue
    expect(dialog).to_contain_text("ix_students_school_id_names")  # the statement that will run
    expect(dialog).to_contain_text("A fresh backup of the database is taken first")
    expect(page.locator("#confirm-cancel")).to_be_focused()  # Enter does not fix by accident
    page.click("#confirm-cancel")
    expect(dialog).to_be_hidden()

    fix.click()
    expect(dialog).to_be_visible()
    page.keyboard.press("Escape")
    expect(dialog).to_be_hidden()

    expect(fix).to_be_enabled()
    expect(page.locator("#fixes")).to_contain_text("No fixes yet.")
    assert sent == [] and local_backups(drifted.folder / "backups") == []  # no request, no backup

    fix.click()
    confirm(page, DROPPED_INDEX)
    expect(fix).to_have_count(0)
    assert sent == ["api/ops/db-health/fixes"]
    assert len(local_backups(drifted.folder / "backups")) == 1


def test_switching_fixing_off_and_on_is_confirmed_first(
    served: tuple[str, Flask], page: Page, drifted: Drifted
) -> None:
    base, app = served
    operator = make_operator(app)
    sign_in(page, base, operator.email)
    switch, toggle, dialog = page.locator("#switch"), page.locator("#switch-toggle"), page.locator("#confirm")
    expect(switch).to_contain_text("allowed")
    sent = posts(page)

    toggle.click()
    expect(dialog).to_contain_text("Switch fixing off?")
    expect(dialog).to_contain_text("No fix will run on any instance until fixing is switched on again")
    expect(dialog).to_contain_text("flask db doctor --watch --autofix")
    page.click("#confirm-cancel")
    expect(dialog).to_be_hidden()
    expect(switch).to_contain_text("allowed")
    assert sent == [] and fixing_switched_on(app, operator)

    toggle.click()
    confirm(page, "Switch fixing off?")
    expect(switch).to_contain_text("switched off")
    assert not fixing_switched_on(app, operator)

    toggle.click()
    expect(dialog).to_contain_text("Switch fixing on?")
    expect(dialog).to_contain_text("Fixes may run again on every instance")
    page.keyboard.press("Escape")
    expect(dialog).to_be_hidden()
    expect(switch).to_contain_text("switched off")
    assert not fixing_switched_on(app, operator)

    toggle.click()
    confirm(page, "Switch fixing on?")
    expect(switch).to_contain_text("allowed")
    assert fixing_switched_on(app, operator)
    assert sent == ["api/ops/db-health/autofix"] * 2


def test_school_users_are_turned_away(served: tuple[str, Flask], page: Page) -> None:
    base, app = served
    admin = make_user(app, make_school(app), "admin")
    sign_in(page, base, admin.email)
    expect(page.locator("#sign-in-error")).to_have_text("This console is for platform operators only.")
    expect(page.locator("#console")).to_be_hidden()


def test_the_page_allows_only_its_own_scripts(served: tuple[str, Flask]) -> None:
    _base, app = served
    client = app.test_client()
    page_response = client.get("/ops")
    csp = page_response.headers["Content-Security-Policy"]
    assert "script-src 'self'" in csp and "unsafe-inline" not in csp and "default-src 'none'" in csp
    html = page_response.get_data(as_text=True)
    assert "<script>" not in html and "http" not in html.replace("http-equiv", "")  # no inline script, no CDN
    assert client.get("/ops/assets/console.js").status_code == 200
    assert client.get("/ops/assets/secrets.py").status_code == 404


@pytest.fixture
def served_plain(make_app: AppFactory) -> Iterator[tuple[str, Flask]]:
    with serving(make_app()) as base_and_app:
        yield base_and_app


def _dead_job(app: Flask, kind: str) -> str:
    with app.app_context():
        job = jobs.enqueue(kind, {}, dedup_key=f"console-test:{uuid.uuid4()}")
        assert job is not None
        job.status, job.attempts, job.last_error = "dead", 8, "Unavailable: Xero answered 503"
        db.session.commit()
        job_id = str(job.id)
        db.session.remove()
    return job_id


def _status_of(app: Flask, job_id: str) -> str:
    with app.app_context():
        status = db.session.get(jobs.Job, uuid.UUID(job_id)).status  # type: ignore[union-attr]
        db.session.remove()
    return str(status)


def test_an_operator_retries_and_discards_dead_letters(served_plain: tuple[str, Flask], page: Page) -> None:
    base, app = served_plain
    retried, discarded = _dead_job(app, "xero.invoice"), _dead_job(app, "xero.payment")
    sign_in(page, base, make_operator(app).email)
    section = page.locator("#jobs")
    expect(section).to_contain_text("xero.invoice")
    expect(section).to_contain_text("Xero answered 503")
    sent = posts(page)

    page.click(f'button[data-job="{retried}"][data-action="retry"]')
    confirm(page, "Retry this xero.invoice job?", "goes back to the queue")
    expect(page.locator(f'button[data-job="{retried}"]')).to_have_count(0)
    page.click(f'button[data-job="{discarded}"][data-action="discard"]')
    confirm(page, "Discard this xero.payment job?", "never run again")
    expect(page.locator("#no-dead-jobs")).to_be_visible()
    assert sent == [f"api/ops/jobs/{retried}/retry", f"api/ops/jobs/{discarded}/discard"]
    assert (_status_of(app, retried), _status_of(app, discarded)) == ("queued", "discarded")
    page.screenshot(path=str(ARTIFACTS / "ops-console-jobs.png"), full_page=True)
