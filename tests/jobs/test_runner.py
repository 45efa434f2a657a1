"""The job queue and its runner: one job per event, due order, Defer without an attempt, GiveUp
dead at once, failures retried with backoff until dead, and a success committed with its work."""

from __future__ import annotations

import time
import uuid
from datetime import timedelta
from typing import Any

import pytest
from flask import Flask
from sqlalchemy import select, update

from backend import jobs
from backend.config import SETTINGS_EXTENSION, Settings
from backend.core.extensions import db
from backend.core.models import utcnow
from backend.jobs import queue as jobs_queue
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
    if outcome == "clash":  # work that cannot commit: a row whose unique key another has taken
        db.session.add(
            jobs.Job(
                kind="test.job",
                dedup_key="test:taken",
                payload={},
                status="queued",
                attempts=0,
                next_attempt_at=utcnow(),
            )
        )
    if outcome in ("follow_up", "follow_up_then_fail"):  # work left uncommitted by the handler
        jobs.enqueue("test.job", {"name": f"after-{job.payload['name']}"}, dedup_key=f"test:after-{job.id}")
        if outcome == "follow_up_then_fail":
            raise RuntimeError("boom after the work")


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


def test_a_success_commits_with_the_handlers_work_and_a_failure_drops_it(app: Flask) -> None:
    _add(app, "kept", outcome="follow_up")
    _add(app, "dropped", ago=1, outcome="follow_up_then_fail")
    _round(app)
    assert _jobs(app) == {"kept": ("done", 1), "dropped": ("queued", 1), "after-kept": ("queued", 0)}


def test_a_runner_whose_lease_ran_out_leaves_the_job_to_its_new_holder(app: Flask) -> None:
    _add(app, "slow")
    with app.app_context():
        [job] = jobs_queue.claim("runner-a", ["test.job"], 5)
        db.session.execute(update(jobs.Job).values(claimed_until=utcnow() - timedelta(seconds=1)))
        db.session.commit()
        [again] = jobs_queue.claim("runner-b", ["test.job"], 5)  # a's lease ran out: b takes the job
        assert again.id == job.id
        assert not jobs_queue.start(job.id, "runner-a")  # a neither starts it again...
        assert not jobs_queue.succeeded(job.id, "runner-a")  # ...nor records an outcome over b's
        assert db.session.get(jobs.Job, job.id, populate_existing=True).status == "running"  # type: ignore[union-attr]
        assert jobs_queue.start(job.id, "runner-b")
        assert jobs_queue.succeeded(job.id, "runner-b")
        db.session.remove()
    assert _jobs(app) == {"slow": ("done", 1)}


def test_a_success_that_cannot_commit_is_a_failure_not_a_crash(app: Flask) -> None:
    _add(app, "taken")
    _add(app, "clashing", ago=1, outcome="clash")
    _add(app, "after")  # due after it: the same round still runs it
    with app.app_context():
        db.session.execute(update(jobs.Job).where(jobs.Job.dedup_key == "test:taken").values(status="done"))
        db.session.commit()
        db.session.remove()
    time.sleep(0.01)
    _round(app)
    result = _jobs(app)
    assert result["clashing"] == ("queued", 1)
    assert result["after"] == ("done", 1)
    with app.app_context():
        [clashing] = [j for j in db.session.scalars(select(jobs.Job)) if j.payload["name"] == "clashing"]
        assert clashing.last_error == "IntegrityError at the commit"
        db.session.remove()
