"""The job queue and its runner: one job per event, due order, Defer without an attempt, GiveUp
dead at once, failures retried with backoff until dead, and a success committed with its work."""

from __future__ import annotations

import uuid
from datetime import timedelta
from typing import Any

import pytest
from flask import Flask
from sqlalchemy import select

from backend import jobs
from backend.config import SETTINGS_EXTENSION, Settings
from backend.core.extensions import db
from backend.core.models import utcnow
from backend.jobs.runner import Runner
from tests.conftest import AppFactory

SEEN: list[str] = []


def _handler(job: jobs.Job, _settings: Settings) -> None:
    SEEN.append(str(job.payload["name"]))
    outcome = job.payload.get("outcome")
    if outcome == "defer":
        raise jobs.Defer(60, "not yet")
    if outcome == "give_up":
        raise jobs.GiveUp("never")
    if outcome == "fail":
        raise RuntimeError("boom")


@pytest.fixture
def app(make_app: AppFactory) -> Flask:
    SEEN.clear()
    application = make_app(JOBS_MAX_ATTEMPTS=2, JOBS_BACKOFF_SECONDS=0.01, JOBS_BACKOFF_MAX_SECONDS=0.01)
    jobs.register_handler(application, "test.job", _handler)
    return application


def _add(app: Flask, name: str, *, ago: int = 0, **payload: Any) -> None:
    with app.app_context():
        jobs.enqueue(
            "test.job",
            {"name": name, **payload},
            dedup_key=f"test:{name}",
            run_at=utcnow() - timedelta(seconds=ago),
        )
        db.session.commit()
        db.session.remove()


def _round(app: Flask) -> int:
    with app.app_context():
        claimed = Runner(app, app.extensions[SETTINGS_EXTENSION]).round()
        db.session.remove()
    return claimed


def _jobs(app: Flask) -> dict[str, tuple[str, int]]:
    with app.app_context():
        rows = db.session.scalars(select(jobs.Job)).all()
        result = {str(job.payload["name"]): (job.status, job.attempts) for job in rows}
        db.session.remove()
    return result


def test_jobs_run_in_due_order_and_once_per_event(app: Flask) -> None:
    for name, ago in (("second", 10), ("third", 5), ("first", 20)):
        _add(app, name, ago=ago)
    _add(app, "first", ago=1)  # the same event again: no second job
    assert _round(app) == 3
    assert SEEN == ["first", "second", "third"]
    assert _round(app) == 0
    assert _jobs(app) == dict.fromkeys(("first", "second", "third"), ("done", 1))


def test_defer_waits_without_an_attempt_and_give_up_is_dead_at_once(app: Flask) -> None:
    _add(app, "later", outcome="defer")
    _add(app, "hopeless", outcome="give_up")
    _round(app)
    assert _jobs(app) == {"later": ("queued", 0), "hopeless": ("dead", 1)}
    assert _round(app) == 0  # deferred for a minute


def test_failures_are_retried_then_dead_and_an_operator_retries(app: Flask) -> None:
    import time

    _add(app, "flaky", outcome="fail")
    _round(app)
    assert _jobs(app) == {"flaky": ("queued", 1)}
    time.sleep(0.05)
    _round(app)
    assert _jobs(app) == {"flaky": ("dead", 2)}
    with app.app_context():
        [dead] = jobs.dead_letters()
        assert dead.last_error == "RuntimeError: boom"
        jobs.retry(dead.id)
        db.session.commit()
        db.session.remove()
    assert _jobs(app) == {"flaky": ("queued", 0)}


def test_a_kind_has_one_handler(app: Flask) -> None:
    with pytest.raises(ValueError, match="already registered"):
        jobs.register_handler(app, "test.job", _handler)
    with app.app_context(), pytest.raises(Exception, match="not found"):
        jobs.retry(uuid.uuid4())
