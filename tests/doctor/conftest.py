"""A drifted database per engine: a dropped index, a dropped audit trigger, a changed column type
and an orphan row, on SQLite always and on PostgreSQL in the PostgreSQL pass."""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
from click.testing import Result
from flask import Flask
from sqlalchemy import create_engine, text

from backend.config import normalise_database_url
from backend.core.db import dispose_pools
from backend.doctor.cli import doctor_command
from tests.backups.conftest import ENGINES, backup_app, migrate, new_database
from tests.conftest import login, make_school, make_user

# What the drift looks like to the doctor, per engine.
DROPPED_INDEX = "missing_index:students.ix_students_school_id_names"
DROPPED_TRIGGER = {
    "sqlite": "missing_trigger:audit_events.audit_events_no_update",
    "postgresql": "missing_trigger:audit_events.audit_events_guard",
}
CHANGED_TYPE = "type_mismatch:students.first_name"
ORPHANS = {
    "sqlite": "orphans:auth_sessions.users",
    "postgresql": "orphans:auth_sessions.fk_auth_sessions_user_id_users",
}


@dataclass
class Drifted:
    engine: str
    url: str
    folder: Path
    apps: list[Flask]

    def app(self, **overrides: Any) -> Flask:
        backup_dir = overrides.pop("BACKUP_DIR", self.folder / "backups")
        made = backup_app(self.url, backup_dir, DB_DOCTOR_DRAFTS_DIR=str(self.folder / "drafts"), **overrides)
        self.apps.append(made)
        return made

    def doctor(self, *args: str, app: Flask | None = None) -> Result:
        return (app or self.app()).test_cli_runner().invoke(doctor_command, list(args))

    def sql(self, statement: str) -> Any:
        engine = create_engine(normalise_database_url(self.url))
        try:
            with engine.begin() as connection:
                if self.engine == "sqlite":
                    connection.exec_driver_sql("PRAGMA foreign_keys=OFF")
                return (
                    connection.execute(text(statement)).all()
                    if statement.lstrip().upper().startswith(("SELECT", "PRAGMA"))
                    else connection.execute(text(statement))
                )
        finally:
            engine.dispose()


def drift(database: Drifted) -> None:
    """Break the schema the four ways the issue names, as a careless hand on the server would."""
    statements = {
        "sqlite": [
            "DROP INDEX ix_students_school_id_names",
            "DROP TRIGGER audit_events_no_update",
            "ALTER TABLE students RENAME COLUMN first_name TO first_name_old",
            "ALTER TABLE students ADD COLUMN first_name INTEGER",
            f"UPDATE auth_sessions SET user_id = '{uuid.uuid4().hex}'",  # noqa: S608 - a test's own value
        ],
        "postgresql": [
            "DROP INDEX ix_students_school_id_names",
            "DROP TRIGGER audit_events_guard ON audit_events",
            "ALTER TABLE students ALTER COLUMN first_name TYPE text",
            "ALTER TABLE auth_sessions DROP CONSTRAINT fk_auth_sessions_user_id_users",
            f"UPDATE auth_sessions SET user_id = '{uuid.uuid4()}'",  # noqa: S608 - a test's own value
        ],
    }[database.engine]
    for statement in statements:
        database.sql(statement)


def healthy(engine: str, folder: Path) -> Iterator[Drifted]:
    with new_database(engine, folder) as url:
        migrate(url)
        database = Drifted(engine, url, folder, [])
        app = database.app()
        school = make_school(app)
        login(app.test_client(), make_user(app, school, "admin"))  # a session row to orphan later
        yield database
        for made in database.apps:
            dispose_pools(made)


@pytest.fixture(params=ENGINES)
def clean(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[Drifted]:
    yield from healthy(request.param, tmp_path)


@pytest.fixture
def drifted(clean: Drifted) -> Drifted:
    drift(clean)
    return clean
