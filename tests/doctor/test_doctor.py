"""`flask db doctor`: the scan, safe fixes after a backup, drafts for the rest, the kill switch,
one scan at a time, the retry hold and the watcher."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
from datetime import timedelta
from pathlib import Path

import pytest
from sqlalchemy import select

from backend.audit.models import AuditEvent
from backend.backups.files import local_backups
from backend.backups.models import BackupRun
from backend.config import PROJECT_ROOT
from backend.core.extensions import db
from backend.core.models import utcnow
from backend.doctor.models import DoctorFix, DoctorScan
from tests.conftest import RUN_ENCRYPTION_KEY, UNREACHABLE_DATABASE_URL
from tests.doctor.conftest import CHANGED_TYPE, DROPPED_INDEX, DROPPED_TRIGGER, ORPHANS, Drifted


def ids(result_output: str) -> dict[str, dict[str, object]]:
    report = json.loads(result_output)
    return {issue["id"]: issue for issue in report["issues"]}


def test_a_migrated_database_needs_no_attention(clean: Drifted) -> None:
    result = clean.doctor()
    assert result.exit_code == 0, result.output
    assert "No issues" in result.output or "informational note" in result.output
    report = json.loads(clean.doctor("--json").stdout)
    assert report["status"] == "clean" and report["counts"]["critical"] == report["counts"]["warning"] == 0


def test_the_scan_names_each_drift_with_a_severity_and_a_remedy(drifted: Drifted) -> None:
    result = drifted.doctor("--json")
    assert result.exit_code == 1, result.output
    found = ids(result.stdout)
    trigger, orphans = DROPPED_TRIGGER[drifted.engine], ORPHANS[drifted.engine]
    assert {DROPPED_INDEX, trigger, CHANGED_TYPE, orphans} <= found.keys()
    assert found[trigger]["severity"] == "critical" and found[trigger]["fixable"] is True
    assert found[DROPPED_INDEX]["fixable"] is True and "ix_students_school_id_names" in str(
        found[DROPPED_INDEX]["fix_sql"]
    )
    for risky in (CHANGED_TYPE, orphans):
        assert found[risky]["fixable"] is False and found[risky]["needs_review"] is True
    if drifted.engine == "postgresql":
        assert "CONCURRENTLY" in str(found[DROPPED_INDEX]["fix_sql"])
        assert (
            found["missing_foreign_key:auth_sessions.fk_auth_sessions_user_id_users"]["needs_review"] is True
        )

    draft = Path(json.loads(result.stdout)["draft"])
    assert draft.parent == drifted.folder / "drafts"
    text = draft.read_text()
    assert "DRAFT" in text and "alter_column(" in text and "'first_name'" in text
    assert "Orphans in auth_sessions" in text and "# ###" not in text
    compile(text, str(draft), "exec")  # a valid Python revision file

    table = drifted.doctor()
    assert table.exit_code == 1
    assert f"Draft migration for the issues marked review: {draft}" in table.output
    assert "flask db doctor --fix" in table.output


def test_fix_backs_up_first_then_repairs_only_what_is_safe(drifted: Drifted) -> None:
    app = drifted.app()
    result = drifted.doctor("--fix", app=app)
    assert result.exit_code == 1, result.output  # fixed what is safe; the rest still needs attention
    trigger = DROPPED_TRIGGER[drifted.engine]
    assert f"ok       {trigger}" in result.output and f"ok       {DROPPED_INDEX}" in result.output
    [backup] = local_backups(drifted.folder / "backups")
    assert f"Backup taken first: {backup.name}" in result.output

    with app.app_context():
        fixes = {fix.issue_id: fix for fix in db.session.scalars(select(DoctorFix))}
        create_run = db.session.scalars(select(BackupRun).where(BackupRun.kind == "create")).one()
        events = db.session.scalars(select(AuditEvent).where(AuditEvent.action == "db.fix")).all()
    assert set(fixes) == {trigger, DROPPED_INDEX}
    for fix in fixes.values():
        assert (fix.status, fix.resolved, fix.backup_file, fix.trigger) == ("ok", True, backup.name, "cli")
        assert fix.statements and fix.started_at >= create_run.finished_at  # the backup came first
    assert {event.changes["issue"] for event in events if event.changes} == {trigger, DROPPED_INDEX}

    after = ids(drifted.doctor("--json").stdout)
    assert DROPPED_INDEX not in after and trigger not in after
    assert CHANGED_TYPE in after and ORPHANS[drifted.engine] in after  # never touched
    if drifted.engine == "postgresql":
        [(data_type,)] = drifted.sql(
            "SELECT data_type FROM information_schema.columns "
            "WHERE table_name = 'students' AND column_name = 'first_name'"
        )
        assert data_type == "text"
    assert len(drifted.sql("SELECT id FROM auth_sessions")) == 1  # the orphan is still there
    # The trigger is back: the audit trail refuses updates again.
    with pytest.raises(Exception, match="append-only"):
        drifted.sql("UPDATE audit_events SET action = 'x'")


def test_fixing_named_issues_and_refusing_unsafe_ones(drifted: Drifted) -> None:
    result = drifted.doctor("--fix", CHANGED_TYPE, "missing_index:nowhere.nothing", DROPPED_INDEX)
    assert result.exit_code == 1, result.output
    assert f"skipped  {CHANGED_TYPE}: No safe fix: it needs review" in result.output
    assert "skipped  missing_index:nowhere.nothing: No such issue" in result.output
    assert f"ok       {DROPPED_INDEX}" in result.output
    assert DROPPED_TRIGGER[drifted.engine] in ids(drifted.doctor("--json").stdout)  # not named, not fixed


def test_an_unreachable_database_is_exit_2(tmp_path: Path) -> None:
    from tests.backups.conftest import backup_app

    app = backup_app(UNREACHABLE_DATABASE_URL, tmp_path)
    from backend.doctor.cli import doctor_command

    result = app.test_cli_runner().invoke(doctor_command, ["--json"])
    assert result.exit_code == 2
    assert json.loads(result.stdout)["status"] == "failed"


def test_the_kill_switch_stops_fixes_on_every_instance(drifted: Drifted) -> None:
    off_by_setting = drifted.doctor("--fix", app=drifted.app(DB_DOCTOR_AUTOFIX="false"))
    assert off_by_setting.exit_code == 2 and "DB_DOCTOR_AUTOFIX is false" in off_by_setting.output

    from backend.doctor.switch import set_switch

    first, second = drifted.app(), drifted.app()  # two instances of the app on one database
    with first.app_context():
        from backend.config import current_settings

        set_switch(current_settings(), False, None)
    refused = drifted.doctor("--fix", app=second)
    assert refused.exit_code == 2 and "an operator switched fixing off" in refused.output
    assert DROPPED_INDEX in ids(drifted.doctor("--json", app=second).stdout)
    with second.app_context():
        assert db.session.scalars(select(DoctorFix)).all() == []
        set_switch(current_settings(), True, None)
    assert f"ok       {DROPPED_INDEX}" in drifted.doctor("--fix", app=first).output


def test_two_scans_never_run_at_once(drifted: Drifted, tmp_path: Path) -> None:
    """Another process holds the doctor's lock (as a scan on another instance would)."""
    ready = tmp_path / "locked"
    holder = subprocess.Popen(
        [
            sys.executable,
            "-c",
            "import sys, time, pathlib\n"
            "from backend import create_app\n"
            "from backend.doctor.lock import exclusive\n"
            "from backend.core.extensions import db\n"
            "app = create_app()\n"
            "with app.app_context(), exclusive(db.engine):\n"
            "    pathlib.Path(sys.argv[1]).touch()\n"
            "    time.sleep(30)\n",
            str(ready),
        ],
        cwd=PROJECT_ROOT,
        env={
            **os.environ,
            "HOMEROOM_ENV_FILE": "",
            "DATABASE_URL": drifted.url,
            "ENCRYPTION_KEYS": RUN_ENCRYPTION_KEY,
            "LOG_LEVEL": "WARNING",
        },
    )
    try:
        deadline = time.monotonic() + 60
        while not ready.exists() and time.monotonic() < deadline and holder.poll() is None:
            time.sleep(0.05)
        assert ready.exists(), "the lock holder did not start"
        busy = drifted.doctor()
        assert busy.exit_code == 2 and "Another scan or fix is running" in busy.output
        fix = drifted.doctor("--fix")
        assert fix.exit_code == 2
    finally:
        holder.kill()
        holder.wait(timeout=10)
    assert drifted.doctor().exit_code == 1  # the lock is free again


def test_a_failed_fix_is_not_retried_within_the_hour(drifted: Drifted) -> None:
    app = drifted.app()
    recently = utcnow() - timedelta(minutes=10)
    with app.app_context():
        db.session.add(
            DoctorFix(
                issue_id=DROPPED_INDEX,
                trigger="cli",
                statements=["CREATE INDEX ..."],
                status="failed",
                error="disk full",
                resolved=False,
                started_at=recently,
                finished_at=recently,
            )
        )
        db.session.commit()
    held = drifted.doctor("--fix", DROPPED_INDEX, app=app)
    assert "Failed recently: not retried before" in held.output
    assert local_backups(drifted.folder / "backups") == []  # nothing to fix, so no backup either
    with app.app_context():
        db.session.execute(DoctorFix.__table__.update().values(finished_at=utcnow() - timedelta(hours=2)))
        db.session.commit()
    assert f"ok       {DROPPED_INDEX}" in drifted.doctor("--fix", DROPPED_INDEX, app=app).output


def test_the_watcher_fixes_critical_tables_only_when_asked(drifted: Drifted) -> None:
    app = drifted.app()
    watched = drifted.doctor("--watch", "--interval", "1", "--runs", "2", "--autofix", app=app)
    assert watched.exit_code == 0, watched.output
    assert "Stopped after 2 scan(s)." in watched.output
    trigger = DROPPED_TRIGGER[drifted.engine]
    assert f"fix {trigger}: ok" in watched.output
    assert f"fix {DROPPED_INDEX}: skipped (Not a critical table" in watched.output
    with app.app_context():
        scans = db.session.scalars(select(DoctorScan).where(DoctorScan.trigger == "watch")).all()
    assert len(scans) == 2
    left = ids(drifted.doctor("--json").stdout)
    assert trigger not in left and DROPPED_INDEX in left

    quiet = drifted.doctor("--watch", "--interval", "1", "--runs", "1", app=drifted.app())
    assert quiet.exit_code == 0 and "fix " not in quiet.output  # no --autofix: nothing fixed


def test_the_migrations_create_exactly_the_triggers_the_doctor_expects(clean: Drifted) -> None:
    """The audit triggers the doctor guards, and on SQLite the knowledge base's search triggers
    (objects kept outside the models, which the knowledge-base health check guards)."""
    from backend.assistant.models import SEARCH_TRIGGERS
    from backend.audit.triggers import TRIGGERS

    query = (
        "SELECT name FROM sqlite_master WHERE type = 'trigger'"
        if clean.engine == "sqlite"
        else "SELECT tgname FROM pg_trigger WHERE NOT tgisinternal"
    )
    present = {name for (name,) in clean.sql(query)}
    search = set(SEARCH_TRIGGERS) if clean.engine == "sqlite" else set()
    assert present == {spec.name for spec in TRIGGERS[clean.engine]} | search  # type: ignore[index]


def test_no_fix_without_a_backup(drifted: Drifted) -> None:
    result = drifted.doctor("--fix", app=drifted.app(BACKUP_DIR=""))
    assert result.exit_code == 2
    assert "No fix without a fresh backup" in result.output and "BACKUP_DIR is not set" in result.output
    assert DROPPED_INDEX in ids(drifted.doctor("--json").stdout)


def test_a_missing_table_is_created_with_its_indexes(clean: Drifted) -> None:
    clean.sql("DROP TABLE backup_runs")
    found = ids(clean.doctor("--json").stdout)
    assert found["missing_table:backup_runs"]["severity"] == "critical"
    assert found["missing_table:backup_runs"]["fixable"] is True
    result = clean.doctor("--fix", "missing_table:backup_runs")
    assert "ok       missing_table:backup_runs" in result.output, result.output
    after = json.loads(clean.doctor("--json").stdout)
    assert after["status"] == "clean", after["issues"]


@pytest.mark.skipif(not os.environ.get("TEST_DATABASE_URL"), reason="runs in the PostgreSQL pass")
def test_an_invalid_index_is_rebuilt_concurrently(clean: Drifted) -> None:
    if clean.engine != "postgresql":
        pytest.skip("invalid indexes are a PostgreSQL state")
    # What a failed CREATE INDEX CONCURRENTLY leaves behind (set directly; the test role is a superuser).
    clean.sql(
        "UPDATE pg_index SET indisvalid = false WHERE indexrelid = 'ix_students_school_id_names'::regclass"
    )
    found = ids(clean.doctor("--json").stdout)
    issue = found["invalid_index:students.ix_students_school_id_names"]
    assert issue["fixable"] is True and "REINDEX INDEX CONCURRENTLY" in str(issue["fix_sql"])
    result = clean.doctor("--fix")
    assert "ok       invalid_index:students.ix_students_school_id_names" in result.output, result.output
    [(valid,)] = clean.sql(
        "SELECT indisvalid FROM pg_index WHERE indexrelid = 'ix_students_school_id_names'::regclass"
    )
    assert valid is True
