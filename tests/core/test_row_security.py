"""Tenant isolation in PostgreSQL itself: row-level security on every tenant-owned table, the app's
connections acting as a role that owns nothing, and the scope each statement runs under.

A forgotten filter is simulated by views that query without `auth.scoped(...)`.
"""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from datetime import date
from typing import Any

import pytest
from flask import Blueprint, Flask, jsonify
from flask.testing import FlaskClient
from flask.typing import ResponseReturnValue
from sqlalchemy import create_engine, select, text
from sqlalchemy.exc import ProgrammingError

from backend.classes.models import Term
from backend.config import normalise_database_url
from backend.core.context import NO_ROWS
from backend.core.db import ambient_scope
from backend.core.extensions import db
from backend.core.markers import public, writes
from backend.core.models import Base, TenantOwned
from backend.students.models import Student
from backend.tenancy import current_auth, platform_access, requires
from tests.conftest import auth_headers, make_operator, make_school, make_user, postgres_only

pytestmark = postgres_only

UNSCOPED = "/api/_test/unscoped-students"


def _unscoped_student_ids() -> ResponseReturnValue:
    """The forgotten filter: every student the connection may see."""
    return jsonify(sorted(str(i) for i in db.session.scalars(select(Student.id))))


def _probe(name: str) -> Any:
    """A fresh view function per route (a route's record lives on its function)."""

    def view() -> ResponseReturnValue:
        return _unscoped_student_ids()

    view.__name__ = name
    return view


def _whoami() -> ResponseReturnValue:
    row = db.session.execute(
        text("SELECT current_user AS who, current_setting('app.school_id', true) AS school")
    ).one()
    return jsonify({"user": row.who, "school": row.school})


def _term_in_another_school() -> ResponseReturnValue:
    """A write naming another school's id (a forgotten check on an input)."""
    assert str(current_auth().school_id) != OTHER[0]
    other = uuid.UUID(OTHER[0])
    db.session.add(
        Term(school_id=other, name="Smuggled", starts_on=date(2026, 1, 1), ends_on=date(2026, 2, 1))
    )
    db.session.commit()
    return jsonify({"written": True})


OTHER: list[str] = [""]  # the other school's id, for the write above


def _probe_routes() -> Blueprint:
    routes = Blueprint("row_security_probe", __name__)
    routes.add_url_rule(UNSCOPED, "unscoped", requires("students.read")(_probe("unscoped")))
    routes.add_url_rule("/api/_test/unscoped-public", "unscoped_public", public(_probe("unscoped_public")))
    routes.add_url_rule("/api/_test/whoami", "whoami", requires("students.read")(_whoami))
    routes.add_url_rule(
        "/api/_test/ops-students", "ops_students", requires("ops.read")(_probe("ops_students"))
    )
    routes.add_url_rule(
        "/api/_test/smuggle",
        "smuggle",
        writes(requires("terms.manage")(_term_in_another_school)),
        methods=["POST"],
    )
    return routes


def _student(client: FlaskClient, headers: dict[str, str], number: str) -> str:
    body = {
        "admission_number": number,
        "first_name": "Row",
        "last_name": f"Secure {number}",
        "date_of_birth": "2015-06-01",
        "grade_level": 5,
        "enrolled_on": "2025-09-01",
    }
    response = client.post("/api/students", json=body, headers=headers)
    assert response.status_code == 201, response.get_json()
    return str(response.get_json()["id"])


@pytest.fixture
def two_schools(make_app: Any) -> Iterator[dict[str, Any]]:
    app: Flask = make_app(DB_POOL_SIZE=1, DB_MAX_OVERFLOW=0)  # one connection: it changes hands
    app.register_blueprint(_probe_routes())
    client = app.test_client()
    schools = {name: make_school(app) for name in ("a", "b")}
    headers = {name: auth_headers(client, make_user(app, school)) for name, school in schools.items()}
    students = {
        name: {_student(client, headers[name], f"{name.upper()}-{n}") for n in range(2)} for name in schools
    }
    OTHER[0] = str(schools["b"])
    yield {"app": app, "client": client, "schools": schools, "headers": headers, "students": students}


def test_an_unscoped_query_in_a_request_sees_only_the_callers_school(two_schools: dict[str, Any]) -> None:
    client, headers, students = two_schools["client"], two_schools["headers"], two_schools["students"]
    for _ in range(2):  # the one pooled connection serves A, then B, then A again
        for name in ("a", "b"):
            response = client.get(UNSCOPED, headers=headers[name])
            assert response.status_code == 200
            assert set(response.get_json()) == students[name]


def test_the_app_acts_as_a_role_that_owns_nothing(two_schools: dict[str, Any]) -> None:
    client, headers, schools = two_schools["client"], two_schools["headers"], two_schools["schools"]
    body = client.get("/api/_test/whoami", headers=headers["a"]).get_json()
    assert body == {"user": "homeroom_app", "school": str(schools["a"])}
    with two_schools["app"].app_context():
        role = db.session.execute(
            text(
                "SELECT rolsuper, rolbypassrls, rolcanlogin,"
                " (SELECT count(*) FROM pg_class WHERE relowner = r.oid) AS owned"
                " FROM pg_roles r WHERE rolname = 'homeroom_app'"
            )
        ).one()
    assert (role.rolsuper, role.rolbypassrls, role.rolcanlogin, role.owned) == (False, False, False, 0)


def test_a_request_with_no_school_sees_no_tenant_rows(two_schools: dict[str, Any]) -> None:
    response = two_schools["client"].get("/api/_test/unscoped-public")
    assert response.status_code == 200
    assert response.get_json() == []


def test_an_operator_request_is_platform_work_and_sees_every_school(two_schools: dict[str, Any]) -> None:
    app, client, students = two_schools["app"], two_schools["client"], two_schools["students"]
    operator = auth_headers(client, make_operator(app))
    assert client.get("/api/_test/unscoped-public", headers=operator).get_json() == []  # not signed in there
    response = client.get("/api/_test/ops-students", headers=operator)
    assert response.status_code == 200, response.get_json()
    assert response.status_code == 200
    assert students["a"] | students["b"] <= set(response.get_json())


def test_a_write_into_another_school_is_refused_by_the_database(two_schools: dict[str, Any]) -> None:
    client, headers = two_schools["client"], two_schools["headers"]
    admin_a = headers["a"]
    response = client.post("/api/_test/smuggle", headers=admin_a, json={})
    assert response.status_code == 500
    with two_schools["app"].app_context():
        smuggled = db.session.scalar(select(Term.id).where(Term.name == "Smuggled"))
    assert smuggled is None


def test_outside_a_request_nothing_is_seen_without_a_named_task(two_schools: dict[str, Any]) -> None:
    app, students = two_schools["app"], two_schools["students"]
    with app.app_context():
        with ambient_scope(NO_ROWS):
            assert db.session.scalars(select(Student.id)).all() == []
            db.session.rollback()
            with platform_access("test: every school"):
                seen = {str(i) for i in db.session.scalars(select(Student.id))}
        assert students["a"] | students["b"] <= seen


def test_every_tenant_owned_table_is_under_row_security(two_schools: dict[str, Any]) -> None:
    tenant_tables = {
        mapper.class_.__table__.name
        for mapper in Base.registry.mappers
        if issubclass(mapper.class_, TenantOwned)
    }
    assert tenant_tables
    engine = create_engine(normalise_database_url(str(two_schools["app"].config["SQLALCHEMY_DATABASE_URI"])))
    try:
        with engine.connect() as connection:
            rows = connection.execute(
                text(
                    "SELECT c.relname, c.relrowsecurity, count(p.polname) AS policies FROM pg_class c"
                    " LEFT JOIN pg_policy p ON p.polrelid = c.oid"
                    " WHERE c.relkind = 'r' AND c.relnamespace = 'public'::regnamespace GROUP BY 1, 2"
                )
            ).all()
    finally:
        engine.dispose()
    secured = {row.relname for row in rows if row.relrowsecurity and row.policies == 1}
    assert tenant_tables <= secured, sorted(tenant_tables - secured)


def test_the_app_role_cannot_change_the_schema(two_schools: dict[str, Any]) -> None:
    with (
        two_schools["app"].app_context(),
        pytest.raises(ProgrammingError, match=r"must be owner|permission denied"),
    ):
        with platform_access("test: a schema change"):
            db.session.execute(text("ALTER TABLE students ADD COLUMN smuggled integer"))
        db.session.rollback()


def test_a_command_is_the_platform_task_it_names(two_schools: dict[str, Any], tmp_path: Any) -> None:
    """`flask import` writes a school's students from outside any request: as the task
    "flask import", not as no one (which row security would refuse)."""
    from backend.schools.models import School

    app = two_schools["app"]
    with app.app_context():
        slug = db.session.get_one(School, two_schools["schools"]["a"]).slug
    path = tmp_path / "students.csv"
    path.write_text(
        "admission_number,first_name,last_name,date_of_birth,grade_level,enrolled_on\n"
        "CLI-1,Cee,Ell,2015-01-01,5,2024-09-01\n"
    )
    with ambient_scope(NO_ROWS):  # as on a server: no test's platform task around the command
        done = app.test_cli_runner().invoke(args=["import", "students", str(path), "--school", slug])
    assert done.exit_code == 0, done.output
    response = two_schools["client"].get(UNSCOPED, headers=two_schools["headers"]["a"])
    assert len(response.get_json()) == len(two_schools["students"]["a"]) + 1
