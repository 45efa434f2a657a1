"""The audit trail: one event per action with the right fields, committed with the change,
append-only in the database, purged only past retention, verifiable, and searchable per school."""

from __future__ import annotations

import itertools
import threading
import uuid
from collections.abc import Iterator
from datetime import timedelta
from typing import Any

import pytest
from flask import Flask
from flask_migrate import upgrade
from sqlalchemy import delete, select, text, update
from sqlalchemy.exc import DBAPIError

from backend import create_app
from backend.audit.models import PLATFORM_CHAIN, AuditEvent
from backend.audit.service import GENESIS, verify_chain
from backend.config import ConfigError, settings_from
from backend.core.db import dispose_pools
from backend.core.extensions import db
from backend.core.models import utcnow
from backend.tenancy import owner_access
from tests.conftest import (
    ON_POSTGRES,
    PASSWORD,
    base_config,
    bearer,
    login,
    make_school,
    make_user,
    postgres_only,
)
from tests.school import TODAY, World


def events(app: Flask, school_id: uuid.UUID | None, action: str | None = None) -> list[AuditEvent]:
    with app.app_context():
        statement = select(AuditEvent).where(AuditEvent.chain_id == (school_id or PLATFORM_CHAIN))
        if action:
            statement = statement.where(AuditEvent.action == action)
        found = list(db.session.scalars(statement.order_by(AuditEvent.seq)))
        db.session.expunge_all()
        return found


# --- what is recorded -----------------------------------------------------------------------------


def test_login_and_failures_are_recorded(app: Flask, client) -> None:
    school = make_school(app)
    user = make_user(app, school, "teacher")
    response = client.post(
        "/api/auth/login",
        json={"email": user.email, "password": PASSWORD},
        headers={"User-Agent": "SPA/2.0", "X-Request-ID": "login-req-1"},
    )
    [event] = events(app, school, "auth.login")
    assert (event.actor_id, event.actor_role, event.school_id) == (user.user_id, "teacher", school)
    assert (event.resource_type, event.resource_id) == ("user", str(user.user_id))
    assert (event.request_id, event.user_agent, event.client_ip) == ("login-req-1", "SPA/2.0", "127.0.0.1")
    assert response.status_code == 200

    client.post("/api/auth/login", json={"email": user.email, "password": "wrong-password-x"})
    [failed] = events(app, school, "auth.login_failed")
    assert failed.changes == {"failed_login_count": 1}
    before = len(events(app, None, "auth.login_failed"))
    client.post("/api/auth/login", json={"email": "nobody-at-all@example.org", "password": "x"})
    unknown = events(app, None, "auth.login_failed")
    assert len(unknown) == before + 1
    assert "nobody-at-all" not in str(unknown[-1].changes)  # a digest, not the address


def test_user_changes_are_recorded_without_secrets(app: Flask, client) -> None:
    school = make_school(app)
    admin = make_user(app, school, "admin")
    headers = bearer(login(client, admin)["access_token"])
    created = client.post(
        "/api/users",
        headers=headers,
        json={
            "email": "new@example.org",
            "full_name": "New",
            "role": "teacher",
            "password": "a-long-enough-passphrase",
        },
    )
    user_id = created.get_json()["id"]
    [create] = [e for e in events(app, school, "user.create") if e.resource_id == user_id]
    assert create.resource_id == user_id and create.actor_id == admin.user_id
    assert create.changes == {
        "email": "new@example.org",
        "full_name": "New",
        "role": "teacher",
        "is_active": True,
    }
    assert "passphrase" not in str(create.changes)
    client.patch(f"/api/users/{user_id}", json={"role": "admin"}, headers=headers)
    [role] = events(app, school, "user.role_change")
    assert role.changes == {"role": {"before": "teacher", "after": "admin"}}
    client.patch(f"/api/users/{user_id}", json={"is_active": False}, headers=headers)
    assert len(events(app, school, "user.deactivate")) == 1
    client.patch(f"/api/users/{user_id}", json={"is_active": False}, headers=headers)  # no change: no event
    assert len(events(app, school, "user.deactivate")) == 1


def _actions(world: World) -> list[str]:
    return [e.action for e in events(world.app, world.accounts["admin"].school_id)]


def test_school_records_changes_are_recorded_once_each(world: World) -> None:
    alice, maths, admin = str(world.ids["alice"]), world.ids["maths"], world.as_("admin")
    setup = _actions(world)
    assert setup.count("student.create") == 2 and setup.count("guardian.link") == 1
    assert setup.count("class.create") == 2 and setup.count("enrollment.create") == 2
    start = len(setup)

    world.client.patch(f"/api/students/{alice}", json={"first_name": "Ally"}, headers=admin)
    day = world.client.put(
        f"/api/classes/{maths}/attendance",
        query_string={"date": str(TODAY)},
        json={"records": [{"student_id": alice, "status": "late"}]},
        headers=admin,
    )
    world.client.put(
        f"/api/classes/{maths}/attendance",
        query_string={"date": str(TODAY)},
        json={"records": [{"student_id": alice, "status": "late"}]},
        headers=admin,
    )  # unchanged
    record_id = day.get_json()["items"][0]["id"]
    world.client.patch(f"/api/attendance/{record_id}", json={"status": "present"}, headers=admin)
    quiz = world.post(
        "admin", f"/api/classes/{maths}/assessments", {"title": "Q", "category": "quiz", "max_score": 10}
    )["id"]
    world.client.put(
        f"/api/assessments/{quiz}/grades", json={"grades": [{"student_id": alice, "score": 7}]}, headers=admin
    )
    world.client.patch(f"/api/assessments/{quiz}", json={"published": True}, headers=admin)
    world.client.delete(f"/api/students/{alice}/guardians/{world.ids['link']}", headers=admin)
    world.client.delete(f"/api/students/{alice}", headers=admin)
    assert _actions(world)[start:] == [
        "student.update",
        "attendance.record",
        "attendance.correct",
        "assessment.create",
        "grade.record",
        "assessment.publish",
        "guardian.unlink",
        "student.withdraw",
    ]
    [update] = events(world.app, world.accounts["admin"].school_id, "student.update")
    assert update.changes == {"first_name": {"before": "Alice", "after": "Ally"}}
    [correct] = events(world.app, world.accounts["admin"].school_id, "attendance.correct")
    assert correct.changes == {"status": {"before": "late", "after": "present"}}


def test_a_failed_change_leaves_no_event(world: World) -> None:
    admin = world.as_("admin")
    before = _actions(world)
    duplicate = {
        "admission_number": "A-001",
        "first_name": "Twin",
        "last_name": "Archer",
        "date_of_birth": "2015-01-01",
        "grade_level": 5,
    }
    assert world.client.post("/api/students", json=duplicate, headers=admin).status_code == 409
    refused = world.client.put(
        f"/api/classes/{world.ids['maths']}/attendance",
        query_string={"date": str(TODAY)},
        json={"records": [{"student_id": str(world.ids["alice"]), "status": "excused"}]},
        headers=world.as_("teacher"),
    )
    assert refused.status_code == 403
    assert _actions(world) == before


def test_each_event_links_to_the_previous_one(world: World) -> None:
    chain = events(world.app, world.accounts["admin"].school_id)
    assert [e.seq for e in chain] == list(range(1, len(chain) + 1))
    assert chain[0].prev_hash == GENESIS
    assert all(later.prev_hash == earlier.hash for earlier, later in itertools.pairwise(chain))
    with world.app.app_context():
        assert verify_chain(world.accounts["admin"].school_id) == (len(chain), None)


# --- append-only ----------------------------------------------------------------------------------


def _run(app: Flask, statement: Any) -> None:
    with app.app_context(), db.engine.begin() as connection:
        connection.execute(statement)


def _raw(app: Flask, sql: str, **params: Any) -> None:
    """SQL as the schema owner: what an attacker holding the owner's credentials could try."""
    with app.app_context(), owner_access("test: the owner tampers"), db.engine.begin() as connection:
        connection.execute(text(sql), params)


def test_updates_and_early_deletes_are_refused_by_the_database(world: World) -> None:
    event_id = events(world.app, world.accounts["admin"].school_id)[0].id
    with pytest.raises(DBAPIError, match="append-only"):
        _run(world.app, update(AuditEvent).where(AuditEvent.id == event_id).values(action="forged"))
    with pytest.raises(DBAPIError, match="younger than the retention"):
        _run(world.app, delete(AuditEvent).where(AuditEvent.id == event_id))
    with pytest.raises(DBAPIError):
        _raw(world.app, "UPDATE audit_policy SET retention_days = 10")
    assert events(world.app, world.accounts["admin"].school_id)[0].action == "school.create"


# --- purge and verify, each on a database of its own ----------------------------------------------


@pytest.fixture
def own_app(fresh_database_url: str) -> Iterator[Flask]:
    app = create_app(settings_from(**base_config(fresh_database_url)))
    with app.app_context():
        upgrade()
    yield app
    dispose_pools(app)


def _school_created_days_ago(app: Flask, monkeypatch: pytest.MonkeyPatch, days: int) -> uuid.UUID:
    """A school whose first events really are `days` old (their hashes are valid)."""
    with monkeypatch.context() as patched:
        patched.setattr("backend.audit.service.utcnow", lambda: utcnow() - timedelta(days=days))
        school = make_school(app)
        make_user(app, school, "admin")
    return school


class _guard_off:  # noqa: N801 - used as a context manager
    """Disable the append-only triggers (the way a tampering operator would)."""

    def __init__(self, app: Flask) -> None:
        self.app = app

    def __enter__(self) -> None:
        if ON_POSTGRES:
            _raw(self.app, "ALTER TABLE audit_events DISABLE TRIGGER audit_events_guard")
        else:
            _raw(self.app, "DROP TRIGGER audit_events_no_update")

    def __exit__(self, *_: object) -> None:
        if ON_POSTGRES:
            _raw(self.app, "ALTER TABLE audit_events ENABLE TRIGGER audit_events_guard")
        else:
            _raw(
                self.app,
                "CREATE TRIGGER audit_events_no_update BEFORE UPDATE ON audit_events "
                "BEGIN SELECT RAISE(ABORT, 'audit_events is append-only: UPDATE is not allowed'); END",
            )


def test_purge_deletes_only_events_past_retention(
    own_app: Flask, fresh_database_url: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    ancient = _school_created_days_ago(own_app, monkeypatch, 400)
    recent = _school_created_days_ago(own_app, monkeypatch, 100)
    assert own_app.test_cli_runner().invoke(args=["audit", "verify"]).exit_code == 0
    with own_app.app_context():
        count = db.session.scalar(text("SELECT count(*) FROM audit_events"))
    strict = create_app(settings_from(**base_config(fresh_database_url, AUDIT_RETENTION_DAYS=180)))
    result = strict.test_cli_runner().invoke(args=["audit", "purge"])
    assert result.exit_code == 0 and "Deleted 2 audit event(s) older than 180 days" in result.output
    assert events(own_app, ancient) == [] and len(events(own_app, recent)) == 2
    with own_app.app_context():
        assert db.session.scalar(text("SELECT count(*) FROM audit_events")) == count - 2 + 1  # + audit.purge
        assert db.session.scalar(text("SELECT retention_days FROM audit_policy")) == 180
    verify = own_app.test_cli_runner().invoke(args=["audit", "verify"])
    assert verify.exit_code == 0, verify.output  # chains start at their oldest kept event
    dispose_pools(strict)


def test_retention_cannot_go_under_90_days(own_app: Flask) -> None:
    with own_app.app_context():
        assert own_app.test_cli_runner().invoke(args=["audit", "purge"]).exit_code == 0
        assert db.session.scalar(text("SELECT retention_days FROM audit_policy")) == 90
    with pytest.raises(ConfigError, match="AUDIT_RETENTION_DAYS"):
        settings_from(AUDIT_RETENTION_DAYS=30)


def test_verify_finds_the_first_broken_link(own_app: Flask) -> None:
    school = make_school(own_app)
    for _ in range(3):
        make_user(own_app, school, "teacher")
    runner = own_app.test_cli_runner()
    clean = runner.invoke(args=["audit", "verify"])
    assert clean.exit_code == 0 and f"ok      chain {school}: 4 events" in clean.output
    with _guard_off(own_app):
        _run(
            own_app,
            update(AuditEvent).where(AuditEvent.chain_id == school, AuditEvent.seq == 3).values(changes=None),
        )
    broken = runner.invoke(args=["audit", "verify"])
    assert broken.exit_code == 1
    assert (
        f"BROKEN  chain {school}: event seq 3" in broken.output and "does not match its hash" in broken.output
    )


def test_verify_notices_a_deleted_event(own_app: Flask) -> None:
    school = make_school(own_app)
    for _ in range(3):
        make_user(own_app, school, "teacher")
    remove = delete(AuditEvent).where(AuditEvent.chain_id == school, AuditEvent.seq == 2)
    if ON_POSTGRES:
        with _guard_off(own_app):
            _run(own_app, remove)
    else:
        _raw(own_app, "DROP TRIGGER audit_events_no_early_delete")
        _run(own_app, remove)
    broken = own_app.test_cli_runner().invoke(args=["audit", "verify"])
    assert broken.exit_code == 1 and "event seq 3" in broken.output and "does not follow" in broken.output


@postgres_only
def test_concurrent_appends_keep_one_unbroken_chain(world: World) -> None:
    headers = world.as_("admin")
    barrier = threading.Barrier(8)
    statuses: list[int] = []

    def add_term(n: int) -> None:
        client = world.app.test_client()
        barrier.wait()
        statuses.append(
            client.post(
                "/api/terms",
                headers=headers,
                json={"name": f"Parallel {n}", "starts_on": "2030-01-01", "ends_on": "2030-02-01"},
            ).status_code
        )

    threads = [threading.Thread(target=add_term, args=(n,)) for n in range(8)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=30)
    assert statuses == [201] * 8
    school = world.accounts["admin"].school_id
    with world.app.app_context():
        checked, problem = verify_chain(school)
    assert problem is None and checked == len(events(world.app, school))


# --- search -------------------------------------------------------------------------------------


def test_search_is_for_admins_of_the_school_only(world: World) -> None:
    url = "/api/audit-events"
    assert world.client.get(url, headers=world.as_("teacher")).status_code == 403
    own = world.client.get(url, query_string={"limit": 200}, headers=world.as_("admin")).get_json()["items"]
    other = world.client.get(
        url, query_string={"limit": 200}, headers=world.as_("other_school_admin")
    ).get_json()["items"]
    assert own and other and not {e["id"] for e in own} & {e["id"] for e in other}
    times = [e["occurred_at"] for e in own]
    assert times == sorted(times, reverse=True)  # newest first


def test_search_filters_and_pages(world: World) -> None:
    admin = world.accounts["admin"]
    headers = world.as_("admin")

    def find(**query: Any) -> list[dict[str, Any]]:
        return world.client.get("/api/audit-events", query_string=query, headers=headers).get_json()["items"]

    assert {e["action"] for e in find(action="student.create")} == {"student.create"}
    assert {e["action"] for e in find(action="auth.")} == {"auth.login"}
    assert {e["resource_id"] for e in find(resource_type="student", resource_id=str(world.ids["alice"]))} == {
        str(world.ids["alice"])
    }
    assert {e["actor_id"] for e in find(actor_id=str(admin.user_id))} == {str(admin.user_id)}
    assert find(**{"from": "2999-01-01T00:00:00Z"}) == []
    seen, cursor = [], None
    for _ in range(50):
        body = world.client.get(
            "/api/audit-events",
            query_string={"limit": 3} | ({"cursor": cursor} if cursor else {}),
            headers=headers,
        ).get_json()
        seen += [e["id"] for e in body["items"]]
        cursor = body["next_cursor"]
        if not cursor:
            break
    assert len(seen) == len(set(seen)) == len(find(limit=200))
    assert (
        world.client.get("/api/audit-events", query_string={"actor_id": "x"}, headers=headers).status_code
        == 422
    )


# --- wipes: TRUNCATE, missing events at the end, a whole chain gone -------------------------------------


def _delete_events(app: Flask, statement: Any) -> None:
    """Delete events behind the triggers' back, the way a tampering operator would."""
    if ON_POSTGRES:
        with _guard_off(app):
            _run(app, statement)
    else:
        _raw(app, "DROP TRIGGER IF EXISTS audit_events_no_early_delete")
        _run(app, statement)


@postgres_only
def test_truncating_the_trail_is_refused_by_the_database(own_app: Flask) -> None:
    school = make_school(own_app)
    for table in ("audit_events", "audit_chain_heads"):
        with pytest.raises(DBAPIError, match="append-only: TRUNCATE is not allowed"):
            _raw(own_app, f"TRUNCATE {table}")
    assert len(events(own_app, school)) == 1


def test_chain_heads_cannot_be_deleted(own_app: Flask) -> None:
    school = make_school(own_app)
    with pytest.raises(DBAPIError, match="append-only"):
        _raw(own_app, "DELETE FROM audit_chain_heads WHERE chain_id = :chain", chain=_chain_param(school))
    assert own_app.test_cli_runner().invoke(args=["audit", "verify"]).exit_code == 0


def _chain_param(chain_id: uuid.UUID) -> str:
    return str(chain_id) if ON_POSTGRES else chain_id.hex  # SQLite stores a UUID as 32 hex digits


def test_verify_notices_events_missing_at_the_end(own_app: Flask) -> None:
    school = make_school(own_app)
    for _ in range(3):
        make_user(own_app, school, "teacher")
    _delete_events(own_app, delete(AuditEvent).where(AuditEvent.chain_id == school, AuditEvent.seq >= 3))
    broken = own_app.test_cli_runner().invoke(args=["audit", "verify"])
    assert broken.exit_code == 1
    assert f"BROKEN  chain {school}: event seq 3" in broken.output
    assert "events 3 to 4 are missing: the head records 4" in broken.output


def test_verify_notices_a_chain_wiped_whole(own_app: Flask) -> None:
    school = make_school(own_app)
    make_user(own_app, school, "teacher")
    _delete_events(own_app, delete(AuditEvent).where(AuditEvent.chain_id == school))
    broken = own_app.test_cli_runner().invoke(args=["audit", "verify"])
    assert broken.exit_code == 1
    assert (
        f"BROKEN  chain {school}: event seq 1" in broken.output
        and "events 1 to 2 are missing" in broken.output
    )
    with own_app.app_context():
        assert verify_chain(school)[1] is not None


def test_verify_notices_events_missing_at_the_start_beyond_a_purge(own_app: Flask) -> None:
    school = make_school(own_app)
    for _ in range(2):
        make_user(own_app, school, "teacher")
    _delete_events(own_app, delete(AuditEvent).where(AuditEvent.chain_id == school, AuditEvent.seq == 1))
    broken = own_app.test_cli_runner().invoke(args=["audit", "verify"])
    assert broken.exit_code == 1 and "events 1 to 1 are missing" in broken.output


def test_an_event_recorded_then_rolled_back_is_never_written(app: Flask) -> None:
    """Events wait for the commit; a rollback (even before any statement ran) takes them with it."""
    from backend import audit

    school = make_school(app)
    with app.app_context():
        audit.record(None, "test.abandoned", school_id=school)
        db.session.rollback()
        db.session.close()
        audit.record(None, "test.kept", school_id=school)
        db.session.commit()
    actions = [event.action for event in events(app, school)]
    assert "test.abandoned" not in actions and actions[-1] == "test.kept"
    with app.app_context():
        assert verify_chain(school)[1] is None


def test_time_and_sequence_rise_together_whoever_records_first(app: Flask) -> None:
    """Two transactions: the one that records first commits last. Each event's time is taken
    with its place in the chain, so a purge by time never cuts the chain in the middle."""
    from backend import audit

    school = make_school(app)
    with app.app_context():
        audit.record(None, "test.slow_request", school_id=school)
        with app.app_context():  # another request, on its own session
            audit.record(None, "test.quick_request", school_id=school)
            db.session.commit()
        db.session.commit()
    chain = events(app, school)
    assert [e.action for e in chain][-2:] == ["test.quick_request", "test.slow_request"]
    times = [e.occurred_at for e in chain]
    assert times == sorted(times)
