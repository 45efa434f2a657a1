"""The database layer: pool and dialect settings, UTC timestamps, and models agreeing with migrations."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime, timedelta, timezone

import pytest
from alembic.autogenerate import compare_metadata
from alembic.runtime.migration import MigrationContext
from flask_migrate import downgrade, upgrade
from sqlalchemy import Column, Integer, MetaData, String, Table, inspect, text
from sqlalchemy.orm import Mapped, mapped_column

from backend import create_app
from backend.config import settings_from
from backend.core.db import (
    code_heads,
    compare_options,
    database_revisions,
    dispose_pools,
    engine_options,
    pool_stats,
)
from backend.core.extensions import db as _db
from backend.core.markers import public
from backend.core.models import Base, Timestamps, UUIDPrimaryKey, isoformat_z
from backend.models import import_all_models
from backend.tenancy import owner_access
from tests.conftest import base_config, postgres_only, sqlite_only


def test_postgres_pool_settings_follow_configuration() -> None:
    options = engine_options(settings_from(DATABASE_URL="postgresql://u@h/db"))
    assert options["pool_size"] == 10
    assert options["max_overflow"] == 20
    assert options["pool_timeout"] == 30
    assert options["pool_recycle"] == 3600
    assert "pool_pre_ping" not in options  # idle connections only: see ping_when_idle
    assert options["connect_args"]["connect_timeout"] == 5
    assert (
        options["connect_args"]["options"]
        == "-c statement_timeout=30000 -c client_connection_check_interval=1000"
    )
    tuned = engine_options(
        settings_from(
            DATABASE_URL="postgresql://u@h/db",
            DB_POOL_SIZE=3,
            DB_MAX_OVERFLOW=0,
            DB_STATEMENT_TIMEOUT_MS=1500,
        )
    )
    assert (tuned["pool_size"], tuned["max_overflow"]) == (3, 0)
    assert tuned["connect_args"]["options"].startswith("-c statement_timeout=1500 ")


@postgres_only
def test_postgres_connections_carry_the_timeouts_and_pool(make_app) -> None:
    app = make_app(DB_STATEMENT_TIMEOUT_MS=1234)
    with app.app_context():
        assert _db.engine.dialect.driver == "psycopg"
        assert _db.engine.pool.size() == 10
        assert _db.session.execute(text("SHOW statement_timeout")).scalar_one() == "1234ms"
        assert _db.session.execute(text("SHOW application_name")).scalar_one() == "homeroom"


@postgres_only
def test_statement_timeout_cancels_a_slow_query_with_503(make_app) -> None:
    from flask import Blueprint

    app = make_app(DB_STATEMENT_TIMEOUT_MS=200)
    bp = Blueprint("slow", __name__)

    @bp.get("/api/_test/slow")
    @public
    def slow() -> dict[str, object]:
        _db.session.execute(text("SELECT pg_sleep(2)"))
        return {}

    app.register_blueprint(bp)
    response = app.test_client().get("/api/_test/slow")
    assert response.status_code == 503
    assert response.get_json()["code"] == "service_unavailable"


@sqlite_only
def test_sqlite_pragmas(make_app) -> None:
    app = make_app(DB_BUSY_TIMEOUT_MS=2500)
    with app.app_context():
        run = _db.session.execute
        assert run(text("PRAGMA journal_mode")).scalar_one() == "wal"
        assert run(text("PRAGMA foreign_keys")).scalar_one() == 1
        assert run(text("PRAGMA busy_timeout")).scalar_one() == 2500


def test_sqlite_folder_is_created_on_first_connect_not_at_start(tmp_path) -> None:
    folder = tmp_path / "nested" / "instance"
    app = create_app(settings_from(APP_ENV="testing", DATABASE_URL=f"sqlite:///{folder / 'x.db'}"))
    assert not folder.exists()
    with app.app_context():
        _db.session.execute(text("SELECT 1"))
    assert (folder / "x.db").exists()
    dispose_pools(app)


def test_pool_statistics_count_checked_out_connections(app) -> None:
    with app.app_context():
        before = pool_stats(_db.engine)
        assert set(before) == {"size", "checked_in", "checked_out", "overflow"}
        with _db.engine.connect() as connection:
            connection.execute(text("SELECT 1"))
            assert pool_stats(_db.engine)["checked_out"] == before["checked_out"] + 1
        assert pool_stats(_db.engine)["checked_out"] == before["checked_out"]


# --- model conventions --------------------------------------------------------------------------


class _Sample(UUIDPrimaryKey, Timestamps, Base):
    """A model used only here, on its own metadata so it never joins the application's schema."""

    __tablename__ = "sample_for_tests"
    metadata = MetaData()
    name: Mapped[str] = mapped_column(String(40))


@pytest.fixture
def sample_table(app):  # type: ignore[no-untyped-def]
    with app.app_context():
        with owner_access("test: a table of its own"):
            _Sample.__table__.create(_db.engine)
        yield
        _db.session.rollback()
        with owner_access("test: a table of its own"):
            _Sample.__table__.drop(_db.engine)


@pytest.mark.usefixtures("sample_table")
def test_uuid_keys_and_utc_timestamps_round_trip(app) -> None:
    with app.app_context():
        row = _Sample(name="a")
        _db.session.add(row)
        _db.session.commit()
        _db.session.expire_all()
        loaded = _db.session.get(_Sample, row.id)
        assert isinstance(loaded.id, uuid.UUID)
        assert loaded.created_at.tzinfo is not None and loaded.created_at.utcoffset() == timedelta(0)
        assert abs(datetime.now(UTC) - loaded.created_at) < timedelta(minutes=1)
        assert isoformat_z(loaded.created_at).endswith("Z")


@pytest.mark.usefixtures("sample_table")
def test_other_offsets_are_stored_as_utc_and_naive_times_refused(app) -> None:
    with app.app_context():
        eastern = datetime(2026, 1, 5, 9, 30, tzinfo=timezone(timedelta(hours=-5)))
        row = _Sample(name="b", created_at=eastern)
        _db.session.add(row)
        _db.session.commit()
        _db.session.expire_all()
        assert _db.session.get(_Sample, row.id).created_at == datetime(2026, 1, 5, 14, 30, tzinfo=UTC)
        _db.session.add(_Sample(name="c", created_at=datetime(2026, 1, 5, 9, 30)))
        with pytest.raises(Exception, match="naive datetime"):
            _db.session.commit()


def test_constraint_names_follow_the_convention() -> None:
    table = Table(
        "things",
        Base.metadata.__class__(naming_convention=Base.metadata.naming_convention),
        Column("id", Integer, primary_key=True),
        Column("code", String(5), unique=True),
    )
    assert table.primary_key.name == "pk_things"
    assert {c.name for c in table.constraints} >= {"pk_things", "uq_things_code"}


# --- migrations ---------------------------------------------------------------------------------


def _differences(app) -> list[object]:  # type: ignore[no-untyped-def]
    import_all_models()
    with app.app_context(), _db.engine.connect() as connection:
        context = MigrationContext.configure(connection, opts=compare_options(_db.metadata))
        return compare_metadata(context, _db.metadata)


def test_models_and_migrations_agree(app) -> None:
    assert _differences(app) == []


def test_drift_check_detects_a_model_without_migration(app) -> None:
    extra = Table("unmigrated_table", _db.metadata, Column("id", Integer, primary_key=True))
    try:
        differences = _differences(app)
    finally:
        _db.metadata.remove(extra)
    assert [d[0] for d in differences] == ["add_table"]  # type: ignore[index]


def test_downgrade_to_base_and_upgrade_again(fresh_database_url: str) -> None:
    app = create_app(settings_from(**base_config(fresh_database_url)))
    with app.app_context():
        upgrade()
        assert database_revisions(_db.session.connection()) == code_heads()
        _db.session.commit()
        downgrade(revision="base")
        assert database_revisions(_db.session.connection()) == frozenset()
        _db.session.commit()
        assert set(inspect(_db.engine).get_table_names()) <= {"alembic_version"}
        upgrade()
        assert database_revisions(_db.session.connection()) == code_heads()
        _db.session.commit()
    assert _differences(app) == []
    dispose_pools(app)


@postgres_only
def test_connections_killed_by_the_server_are_replaced(make_app, migrated_database: str) -> None:
    """PostgreSQL drops every connection mid-run (failover, restart): the next requests succeed."""
    from flask import Blueprint
    from sqlalchemy import create_engine

    app = make_app()
    bp = Blueprint("pg_probe", __name__)

    @bp.get("/api/_test/pid")
    @public
    def backend_pid() -> dict[str, int]:
        return {"pid": _db.session.execute(text("SELECT pg_backend_pid()")).scalar_one()}

    app.register_blueprint(bp)
    client = app.test_client()
    first = client.get("/api/_test/pid").get_json()["pid"]
    assert client.get("/ready").status_code == 200

    admin = create_engine(migrated_database)
    with admin.connect() as connection:
        killed = connection.execute(
            text(
                "SELECT count(pg_terminate_backend(pid)) FROM pg_stat_activity "
                "WHERE datname = current_database() AND pid <> pg_backend_pid()"
            )
        ).scalar_one()
    admin.dispose()
    assert killed >= 1

    response = client.get("/api/_test/pid")
    assert response.status_code == 200
    assert response.get_json()["pid"] != first
    assert client.get("/ready").status_code == 200


@postgres_only
def test_a_connection_lost_after_the_answer_does_not_turn_it_into_a_500(make_app) -> None:  # type: ignore[no-untyped-def]
    """The closing ROLLBACK of a finished request meets a dead connection (the path was reset
    between the answer and the teardown): the answer stands and the pool replaces the connection."""
    from flask import Blueprint
    from sqlalchemy import text as sql

    from backend.core.markers import public, writes
    from backend.tenancy import owner_access

    app = make_app()
    routes = Blueprint("lost_after_answer", __name__)

    def answer_then_lose_the_connection() -> dict[str, bool]:
        pid = _db.session.execute(sql("SELECT pg_backend_pid()")).scalar_one()  # a transaction is open
        with owner_access("test: end that backend"), _db.engine.connect() as other:
            other.execute(sql("SELECT pg_terminate_backend(:pid)"), {"pid": pid})
        return {"answered": True}

    routes.add_url_rule("/api/_test/lost", "lost", public(writes(answer_then_lose_the_connection)))
    app.register_blueprint(routes)
    client = app.test_client()
    response = client.get("/api/_test/lost")
    assert response.status_code == 200 and response.get_json() == {"answered": True}
    assert client.get("/ready").status_code == 200
