"""Backups on both engines: a seeded source database per engine (SQLite always; PostgreSQL in the
PostgreSQL pass), apps with their own BACKUP_DIR, empty targets, and a real S3 server (moto)."""

from __future__ import annotations

import os
import socket
import subprocess
import sys
import time
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path
from typing import Any

import boto3
import pytest
from click.testing import Result
from flask import Flask
from flask_migrate import upgrade
from sqlalchemy import select

from backend import create_app
from backend.audit import service as audit
from backend.backups.databases import counts_at
from backend.backups.models import BackupRun
from backend.config import normalise_database_url, settings_from
from backend.core.context import RowScope
from backend.core.db import ambient_scope, dispose_pools, scratch_database
from backend.core.extensions import db
from backend.core.models import utcnow
from backend.health_records.models import HealthRecord
from backend.schools.models import School
from backend.students.models import Student
from tests.conftest import (
    ON_POSTGRES,
    RUN_ENCRYPTION_KEY,
    TEST_DATABASE_URL,
    auth_headers,
    base_config,
    free_port,
    make_school,
    make_user,
)

ENGINES = [
    pytest.param("sqlite", id="sqlite"),
    pytest.param(
        "postgresql",
        id="postgresql",
        marks=pytest.mark.skipif(not ON_POSTGRES, reason="runs in the PostgreSQL pass (TEST_DATABASE_URL)"),
    ),
]
# Health data written to the source: it must never appear in clear in a backup.
ALLERGEN = "Hazelnut-7f3c"
HEALTH_RECORD = {
    "allergies": [
        {"allergen": ALLERGEN, "severity": "severe", "reaction": "Hives", "response": "Antihistamine"}
    ],
    "notes": "Backup-marker-notes",
}
AWS = {
    "AWS_ACCESS_KEY_ID": "test-access-key",
    "AWS_SECRET_ACCESS_KEY": "test-secret-key",  # moto accepts any
    "AWS_DEFAULT_REGION": "us-east-1",
}


@contextmanager
def new_database(engine: str, folder: Path) -> Iterator[str]:
    """An empty database of the engine's kind, gone after the block."""
    if engine == "sqlite":
        yield f"sqlite:///{folder / f'db-{uuid.uuid4().hex[:8]}.sqlite3'}"
        return
    with scratch_database(TEST_DATABASE_URL, "homeroom_test") as url:
        yield url


def backup_app(database_url: str, backup_dir: Path | str, **overrides: Any) -> Flask:
    """An app on the database with BACKUP_DIR set ("" leaves backups unconfigured)."""
    config = base_config(database_url, REDIS_URL="", BACKUP_DIR=str(backup_dir), **overrides)
    return create_app(settings_from(**config))


def migrate(database_url: str) -> None:
    app = create_app(settings_from(**base_config(database_url, REDIS_URL="")))
    with app.app_context():
        upgrade()
    dispose_pools(app)


def small_sqlite(folder: Path, name: str = "app.sqlite3", events: int = 2) -> tuple[str, Flask]:
    """A migrated SQLite database with one school and `events` audit events, and a backup app on it
    (BACKUP_DIR is folder/backups); dispose the app's pools when done."""
    url = f"sqlite:///{folder / name}"
    migrate(url)
    app = backup_app(url, folder / "backups")
    make_school(app)
    add_audit_events(app, events)
    return url, app


def command_environment(database_url: str, backup_dir: Path) -> dict[str, str]:
    """The environment of a `flask` command or script started as a subprocess."""
    return {
        **os.environ,
        "HOMEROOM_ENV_FILE": "",
        "DATABASE_URL": database_url,
        "BACKUP_DIR": str(backup_dir),
        "ENCRYPTION_KEYS": RUN_ENCRYPTION_KEY,
        "LOG_LEVEL": "WARNING",
    }


def cli(app: Flask, *args: str, input: str | None = None) -> Result:
    return app.test_cli_runner().invoke(args=list(args), input=input)


def add_audit_events(app: Flask, count: int) -> None:
    with app.app_context():
        school_id = db.session.scalars(select(School.id)).first()
        for n in range(count):
            audit.record(None, "backup_test.event", school_id=school_id, changes={"n": n})
            db.session.commit()


def seed(database_url: str, folder: Path) -> None:
    """Migrate, build the demo school (20 health records), add a 21st health record and audit
    events on several chains."""
    migrate(database_url)
    app = backup_app(database_url, folder / "unused")
    result = cli(app, "demo", "seed")
    assert result.exit_code == 0, result.output
    with app.app_context():
        without_record = Student.id.not_in(select(HealthRecord.student_id))
        school_id, student_id = db.session.execute(
            select(Student.school_id, Student.id).where(without_record).limit(1)
        ).one()
    admin = make_user(app, school_id, "admin")
    client = app.test_client()
    response = client.put(
        f"/api/students/{student_id}/health", json=HEALTH_RECORD, headers=auth_headers(client, admin)
    )
    assert response.status_code == 200, response.get_json()
    add_audit_events(app, 5)
    dispose_pools(app)


@pytest.fixture(scope="module", params=ENGINES)
def seeded(request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    """A seeded source database for the module, one per engine. Tests may add backups and runs to
    it, never replace it."""
    folder = tmp_path_factory.mktemp("source")
    with new_database(request.param, folder) as url:
        # Set up before the per-test platform scope of tests/conftest.py: name the task here.
        with ambient_scope(RowScope(platform="tests")):
            seed(url, folder)
        yield url


@dataclass
class Source:
    url: str
    backup_dir: Path
    app: Flask
    since: datetime = field(default_factory=utcnow)

    @property
    def engine(self) -> str:
        return "sqlite" if self.url.startswith("sqlite") else "postgresql"

    def run(self, *args: str) -> Result:
        return cli(self.app, "backup", *args)

    def runs(self, **where: Any) -> list[BackupRun]:
        """This test's runs (the source database is shared by the module's tests)."""
        with self.app.app_context():
            query = select(BackupRun).filter_by(**where).where(BackupRun.started_at >= self.since)
            return list(db.session.scalars(query.order_by(BackupRun.started_at)))

    def counts(self) -> dict[str, int]:
        return counts_at(normalise_database_url(self.url))


@pytest.fixture
def source(seeded: str, tmp_path: Path) -> Iterator[Source]:
    app = backup_app(seeded, tmp_path / "backups")
    yield Source(seeded, tmp_path / "backups", app)
    dispose_pools(app)


@pytest.fixture
def target(source: Source, tmp_path: Path) -> Iterator[str]:
    """An empty database of the source's kind."""
    with new_database(source.engine, tmp_path) as url:
        yield url


# --- a real S3 server ---------------------------------------------------------------------------


@dataclass
class S3Server:
    port: int
    process: subprocess.Popen[bytes]

    @property
    def endpoint(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def client(self, endpoint: str | None = None) -> Any:
        return boto3.client("s3", endpoint_url=endpoint or self.endpoint, **_aws_arguments())

    def keys(self, bucket: str) -> list[str]:
        listing = self.client().list_objects_v2(Bucket=bucket)
        return sorted(item["Key"] for item in listing.get("Contents", []))


def _aws_arguments() -> dict[str, str]:
    return {
        "aws_access_key_id": AWS["AWS_ACCESS_KEY_ID"],
        "aws_secret_access_key": AWS["AWS_SECRET_ACCESS_KEY"],
        "region_name": AWS["AWS_DEFAULT_REGION"],
    }


def _wait_for_port(port: int, process: subprocess.Popen[bytes], timeout: float = 30) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise RuntimeError(f"moto_server exited with {process.returncode}")
        with socket.socket() as probe:
            if probe.connect_ex(("127.0.0.1", port)) == 0:
                return
        time.sleep(0.1)
    raise RuntimeError("moto_server did not start listening")


@pytest.fixture(scope="session")
def s3_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[S3Server]:
    """moto's S3 server on 127.0.0.1, for the session."""
    port = free_port()
    log = (tmp_path_factory.mktemp("moto") / "moto.log").open("wb")
    process = subprocess.Popen(
        [str(Path(sys.executable).parent / "moto_server"), "-H", "127.0.0.1", "-p", str(port)],
        stdout=log,
        stderr=subprocess.STDOUT,
        env={**os.environ, **AWS},
    )
    try:
        _wait_for_port(port, process)
        yield S3Server(port, process)
    finally:
        process.terminate()
        process.wait(timeout=10)
        log.close()


@pytest.fixture
def bucket(s3_server: S3Server, monkeypatch: pytest.MonkeyPatch) -> str:
    """A new bucket; boto3 in the app finds the server and credentials in the usual AWS variables."""
    name = f"homeroom-backups-{uuid.uuid4().hex[:8]}"
    s3_server.client().create_bucket(Bucket=name)
    for key, value in AWS.items():
        monkeypatch.setenv(key, value)
    monkeypatch.setenv("AWS_ENDPOINT_URL", s3_server.endpoint)
    return name
