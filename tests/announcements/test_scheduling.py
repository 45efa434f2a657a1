"""Scheduled announcements: invisible until their time, then published once by the jobs queue (the
outbox runner, `flask outbox run`) whatever the number of runners, restarts, reschedules, withdrawals
and "publish now"s, with the audience resolved when it is published. Times are real: a "soon"
announcement is due a second and a half after it is written, and every wait is bounded."""

from __future__ import annotations

import threading
import time
import uuid
from collections.abc import Callable
from datetime import datetime, timedelta, timezone
from typing import Any

from flask import Flask
from sqlalchemy import select, update

from backend import jobs
from backend.announcements import Announcement, Recipient
from backend.announcements.publishing import JOB_KIND
from backend.audit.models import AuditEvent
from backend.config import SETTINGS_EXTENSION
from backend.core.db import dispose_pools
from backend.core.extensions import db
from backend.core.models import utcnow
from backend.jobs import queue as job_queue
from backend.jobs.runner import Runner
from backend.mail.sender import Sender, before_round_hooks
from tests.announcements.helpers import BASE, announce, run_jobs, titles, unread
from tests.conftest import AppFactory, auth_headers, make_user, postgres_only
from tests.mail.conftest import mail_settings
from tests.mail.smtp_server import SMTPServer
from tests.school import TODAY, World

LEAD = 1.5  # seconds from now to a "soon" announcement's time
FAR = 3600  # seconds from now to a time no test reaches
WAIT = 30.0  # the bound of every wait
PLUS_TWO = timezone(timedelta(hours=2))
SCHOOL_A = ("admin", "teacher", "other_teacher", "parent", "other_parent")


def at(seconds: float) -> str:
    """A time `seconds` from now, written with a +02:00 offset (the API keeps it in UTC)."""
    return (utcnow() + timedelta(seconds=seconds)).astimezone(PLUS_TWO).isoformat()


def to_class(world: World, who: str = "teacher", **fields: Any) -> dict[str, Any]:
    """`who` writes to the Maths class (Alice's guardian, `parent`), scheduled soon unless told."""
    body = {"title": "Maths trip", "audience": "class", "class_id": str(world.ids["maths"])}
    return announce(world, who, **(body | {"publish_at": at(LEAD)} | fields))


def wait_for(done: Callable[[], bool], what: str, step: Callable[[], object] = lambda: None) -> None:
    """`step()` until `done()`, a bounded number of times (about WAIT seconds of polling)."""
    for _ in range(int(WAIT / 0.05)):
        if done():
            return
        step()
        time.sleep(0.05)
    assert done(), f"never happened: {what}"


def run_until(app: Flask, done: Callable[[], bool], what: str) -> None:
    """Run `app`'s runner until `done()` (its jobs come due in real time)."""
    wait_for(done, what, lambda: run_jobs(app))


def wait_until_due(announcement: dict[str, Any]) -> None:
    due = datetime.fromisoformat(announcement["publish_at"])
    wait_for(lambda: utcnow() > due, "its time")


def read(world: World, announcement: dict[str, Any], who: str = "admin") -> dict[str, Any]:
    response = world.client.get(f"{BASE}/{announcement['id']}", headers=world.as_(who))
    assert response.status_code == 200, response.get_json()
    return dict(response.get_json())


def rows(app: Flask, statement: Any) -> list[Any]:
    with app.app_context():
        found = list(db.session.scalars(statement))
        db.session.expunge_all()
    return found


def jobs_of(app: Flask, announcement: dict[str, Any]) -> list[jobs.Job]:
    """Its publishing jobs, by due time."""
    queue = rows(app, select(jobs.Job).where(jobs.Job.kind == JOB_KIND).order_by(jobs.Job.next_attempt_at))
    return [job for job in queue if job.payload["announcement_id"] == announcement["id"]]


def job_states(app: Flask, announcement: dict[str, Any]) -> list[tuple[str, int]]:
    return [(job.status, job.attempts) for job in jobs_of(app, announcement)]


def jobs_done(app: Flask, announcement: dict[str, Any]) -> Callable[[], bool]:
    return lambda: all(state == "done" for state, _ in job_states(app, announcement))


def published(world: World, announcement: dict[str, Any]) -> Callable[[], bool]:
    return lambda: read(world, announcement)["status"] == "published"


def publish_events(app: Flask, announcement: dict[str, Any]) -> list[AuditEvent]:
    mine = (AuditEvent.action == "announcement.publish", AuditEvent.resource_id == announcement["id"])
    return rows(app, select(AuditEvent).where(*mine))


def recipients(app: Flask, announcement: dict[str, Any]) -> list[uuid.UUID]:
    return sorted(
        rows(app, select(Recipient.user_id).where(Recipient.announcement_id == uuid.UUID(announcement["id"])))
    )


def users(world: World, *names: str) -> list[uuid.UUID]:
    return sorted(world.accounts[name].user_id for name in names)


def new_guardian(world: World, name: str, student: str = "alice") -> None:
    world.accounts[name] = make_user(world.app, world.accounts["admin"].school_id, "parent", full_name=name)
    world.headers[name] = auth_headers(world.client, world.accounts[name])
    link = {"user_id": str(world.accounts[name].user_id), "relationship": "guardian"}
    world.post("admin", f"/api/students/{world.ids[student]}/guardians", link)


def queue_again(app: Flask, announcement: dict[str, Any]) -> None:
    """The event's job a second time (a retry racing its original): the same payload and time."""
    [job] = jobs_of(app, announcement)
    with app.app_context():
        jobs.enqueue(JOB_KIND, job.payload, dedup_key=f"{job.dedup_key}:again", run_at=job.next_attempt_at)
        db.session.commit()


def test_a_scheduled_announcement_is_invisible_until_its_time_then_published_once(world: World) -> None:
    soon, later = to_class(world), to_class(world, title="Sports day", publish_at=at(FAR))
    for posted in (soon, later):
        assert (posted["status"], posted["recipient_count"], posted["published_at"]) == ("scheduled", 0, None)
    assert titles(world, "parent") == [] and unread(world, "parent") == 0
    mine = world.client.get(f"/api/me/announcements/{soon['id']}", headers=world.as_("parent"))
    assert mine.status_code == 404 and job_states(world.app, soon) == [("queued", 0)]
    new_guardian(world, "late_parent")  # linked after it was written, before its time: a recipient
    run_until(world.app, published(world, soon), "the soon one published")
    now = read(world, soon)
    assert datetime.fromisoformat(now["published_at"]) >= datetime.fromisoformat(now["publish_at"])
    assert now["recipient_count"] == 2
    assert recipients(world.app, soon) == users(world, "parent", "late_parent")
    for who in ("parent", "late_parent"):
        assert titles(world, who) == ["Maths trip"] and unread(world, who) == 1
    assert titles(world, "other_parent") == [] and titles(world, "teacher") == []
    [event] = publish_events(world.app, soon)
    assert event.actor_id == world.accounts["teacher"].user_id and event.actor_role == "teacher"
    assert event.changes == {"recipients": 2, "scheduled": True}
    run_jobs(world.app)  # again: nothing more
    assert len(publish_events(world.app, soon)) == 1 and job_states(world.app, soon) == [("done", 1)]
    assert read(world, later)["status"] == "scheduled" and publish_events(world.app, later) == []
    assert job_states(world.app, later) == [("queued", 0)]


def assert_published_once(world: World, posted: list[dict[str, Any]], smtp: SMTPServer) -> None:
    """Each published once to the whole of school A, each of its jobs done at its first attempt,
    and one email per person and announcement."""
    for announcement in posted:
        assert read(world, announcement)["recipient_count"] == len(SCHOOL_A)
        assert recipients(world.app, announcement) == users(world, *SCHOOL_A)
        assert len(publish_events(world.app, announcement)) == 1
        assert set(job_states(world.app, announcement)) == {("done", 1)}
    for who in SCHOOL_A:
        subjects = sorted(m.message["Subject"].rsplit(": ", 1)[1] for m in smtp.to(world.accounts[who].email))
        assert subjects == sorted(a["title"] for a in posted), who
    assert len(smtp.received) == len(SCHOOL_A) * len(posted)


@postgres_only
def test_two_replicas_racing_on_the_due_jobs_publish_each_announcement_once(
    world: World, smtp: SMTPServer, make_app: AppFactory
) -> None:
    replicas = [make_app(**mail_settings(smtp, JOBS_BATCH_SIZE=1)) for _ in range(2)]
    posted = [
        announce(world, title=f"Closure {n}", urgent=True, audience="school", publish_at=at(LEAD))
        for n in range(4)
    ]
    for announcement in posted:
        queue_again(world.app, announcement)
    senders = [
        Sender(app, app.extensions[SETTINGS_EXTENSION], before_round=before_round_hooks(app))
        for app in replicas
    ]
    for n, sender in enumerate(senders):
        sender.name += f":replica-{n}"  # made in this thread: one name each, as two processes have
    start = threading.Barrier(len(senders))

    def work(sender: Sender) -> None:
        start.wait(timeout=WAIT)
        sender.run(max_seconds=WAIT)

    threads = [threading.Thread(target=work, args=(sender,)) for sender in senders]
    for thread in threads:
        thread.start()

    def finished() -> bool:
        return len(smtp.received) >= len(SCHOOL_A) * len(posted) and all(
            jobs_done(world.app, a)() for a in posted
        )

    try:
        wait_for(finished, "the replicas publish and send everything")
    finally:
        for sender in senders:
            sender.stop()
        for thread in threads:
            thread.join(timeout=WAIT)
    assert_published_once(world, posted, smtp)


def runner_round(app: Flask) -> int:
    """One round of `app`'s job runner (one replica's); how many jobs it claimed."""
    with app.app_context():
        claimed = Runner(app, app.extensions[SETTINGS_EXTENSION]).round()
        db.session.remove()
    return claimed


def test_two_runners_one_after_the_other_publish_it_once(
    world: World, smtp: SMTPServer, make_app: AppFactory
) -> None:
    replicas = [make_app(**mail_settings(smtp, JOBS_BATCH_SIZE=1)) for _ in range(2)]
    posted = announce(world, title="Heating off", urgent=True, audience="school", publish_at=at(LEAD))
    queue_again(world.app, posted)
    wait_until_due(posted)
    assert [runner_round(app) for app in replicas] == [1, 1]  # each takes one of the event's two jobs
    assert runner_round(replicas[0]) == 1  # the one that published queued its emails' job: this one
    assert runner_round(replicas[1]) == 0
    run_jobs(replicas[1])
    assert_published_once(world, [posted], smtp)


def test_a_runner_that_died_leaves_the_job_to_a_restarted_process(
    world: World, smtp: SMTPServer, make_app: AppFactory
) -> None:
    posted = to_class(world, urgent=True)
    wait_until_due(posted)
    with world.app.app_context():  # the process that scheduled it claims the job, and dies
        assert len(job_queue.claim("replica-that-died", [JOB_KIND], 5)) == 1
        db.session.remove()
    dispose_pools(world.app)
    restarted = make_app(**mail_settings(smtp))
    again = World(restarted, restarted.test_client(), world.accounts, world.ids, world.headers)
    assert run_jobs(restarted) == 0 and read(again, posted)["status"] == "scheduled"  # its lease holds
    with restarted.app_context():  # the lease runs out
        ended = utcnow() - timedelta(seconds=1)
        db.session.execute(update(jobs.Job).where(jobs.Job.kind == JOB_KIND).values(claimed_until=ended))
        db.session.commit()
        db.session.remove()
    assert run_jobs(restarted) == 1
    assert read(again, posted)["status"] == "published" and titles(again, "parent") == ["Maths trip"]
    assert len(smtp.to(world.accounts["parent"].email)) == 1 and len(smtp.received) == 1
    [event] = publish_events(restarted, posted)
    assert event.actor_id == world.accounts["teacher"].user_id
    assert job_states(restarted, posted) == [("done", 1)]


def arrive(app: Flask, announcement: dict[str, Any]) -> None:
    """Its (far) time comes: the announcement's `publish_at` and its queued job moved to now, together."""
    now = utcnow()
    with app.app_context():
        db.session.get_one(Announcement, uuid.UUID(announcement["id"])).publish_at = now
        for job in db.session.scalars(select(jobs.Job).where(jobs.Job.status == "queued")):
            if job.payload["announcement_id"] == announcement["id"]:
                job.payload, job.next_attempt_at = {**job.payload, "publish_at": now.isoformat()}, now
        db.session.commit()
        db.session.remove()


def test_rescheduling_later_leaves_the_old_time_a_no_op(world: World) -> None:
    posted = to_class(world)
    moved = world.client.patch(
        f"{BASE}/{posted['id']}", json={"publish_at": at(FAR)}, headers=world.as_("teacher")
    )
    assert moved.status_code == 200 and moved.get_json()["status"] == "scheduled", moved.get_json()
    assert job_states(world.app, posted) == [("queued", 0)] * 2
    old = lambda: job_states(world.app, posted)[0] == ("done", 1)  # noqa: E731
    run_until(world.app, old, "the job for the old time run")
    assert read(world, posted)["status"] == "scheduled" and publish_events(world.app, posted) == []
    assert titles(world, "parent") == [] and unread(world, "parent") == 0
    arrive(world.app, posted)
    run_until(world.app, published(world, posted), "published at the new time")
    assert titles(world, "parent") == ["Maths trip"] and len(publish_events(world.app, posted)) == 1
    assert job_states(world.app, posted) == [("done", 1)] * 2


def test_withdrawn_before_its_time_it_never_publishes(world: World, smtp: SMTPServer) -> None:
    posted = to_class(world, urgent=True)
    response = world.client.post(f"{BASE}/{posted['id']}/withdraw", headers=world.as_("teacher"))
    assert response.status_code == 200 and response.get_json()["status"] == "withdrawn"
    run_until(world.app, jobs_done(world.app, posted), "its job run")
    after = read(world, posted)
    assert after["status"] == "withdrawn" and after["published_at"] is None and after["recipient_count"] == 0
    assert titles(world, "parent") == [] and unread(world, "parent") == 0
    assert recipients(world.app, posted) == []
    assert publish_events(world.app, posted) == [] and smtp.received == []
    again = world.client.post(f"{BASE}/{posted['id']}/publish", headers=world.as_("teacher"))
    assert again.status_code == 409, again.get_json()


def test_publish_now_then_its_job_does_nothing_more(world: World, smtp: SMTPServer) -> None:
    posted = to_class(world, urgent=True)
    now = world.client.post(f"{BASE}/{posted['id']}/publish", headers=world.as_("teacher"))
    assert now.status_code == 200, now.get_json()
    assert now.get_json()["status"] == "published" and now.get_json()["recipient_count"] == 1
    assert titles(world, "parent") == ["Maths trip"]
    twice = world.client.post(f"{BASE}/{posted['id']}/publish", headers=world.as_("teacher"))
    assert twice.status_code == 409, twice.get_json()
    run_until(world.app, jobs_done(world.app, posted), "its job run at its time")
    [event] = publish_events(world.app, posted)
    assert event.actor_id == world.accounts["teacher"].user_id and event.actor_role == "teacher"
    assert event.changes == {"recipients": 1, "scheduled": False}
    assert recipients(world.app, posted) == users(world, "parent") and unread(world, "parent") == 1
    assert len(smtp.received) == 1 and len(smtp.to(world.accounts["parent"].email)) == 1


def test_edits_before_publishing_are_what_is_published_then_only_the_pin_changes(world: World) -> None:
    posted = to_class(world, who="admin")
    path, admin = f"{BASE}/{posted['id']}", world.as_("admin")
    half = world.client.patch(path, json={"class_id": str(world.ids["art"])}, headers=admin)
    assert half.status_code == 422, half.get_json()  # a new audience is given whole
    edit = {"title": "Trip moved", "body": "Now **Friday** <script>alert(1)</script>", "audience": "parents"}
    edited = world.client.patch(path, json=edit, headers=admin)
    assert edited.status_code == 200 and edited.get_json()["class_id"] is None, edited.get_json()
    run_until(world.app, published(world, posted), "published")
    assert recipients(world.app, posted) == users(world, "parent", "other_parent")
    for who in ("parent", "other_parent"):
        [item] = world.client.get("/api/me/announcements", headers=world.as_(who)).get_json()["items"]
        assert item["title"] == "Trip moved" and "<strong>Friday</strong>" in item["body_html"]
        assert "<script" not in item["body_html"] and item["pinned"] is False
    for late in ({"title": "Too late"}, {"publish_at": at(FAR)}, {"title": "x", "pinned_until": str(TODAY)}):
        refused = world.client.patch(path, json=late, headers=admin)
        assert refused.status_code == 409, (late, refused.get_json())
    pin = str(TODAY + timedelta(days=7))
    pinned = world.client.patch(path, json={"pinned_until": pin}, headers=admin)
    assert pinned.status_code == 200 and pinned.get_json()["pinned_until"] == pin, pinned.get_json()
    [item] = world.client.get("/api/me/announcements", headers=world.as_("parent")).get_json()["items"]
    assert item["pinned"] is True and item["title"] == "Trip moved"
    unpinned = world.client.patch(path, json={"pinned_until": None}, headers=admin)
    assert unpinned.status_code == 200 and unpinned.get_json()["pinned_until"] is None
