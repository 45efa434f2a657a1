"""Tenancy: who is calling, in which school and role, what that role may do, and how every
query is limited to the caller's school.

This is the one module every feature uses for the caller. `backend.auth` proves who is calling
(tokens, sessions) and fills the request context's `caller` with an `AuthContext` (a school user)
or an `OperatorContext` (a platform operator); routes read it with `current_auth()` /
`current_operator()` and pass it to services as an argument. Services start every query on
school-owned rows from `auth.scoped(Model)`, so the school always comes from the token.

On PostgreSQL the database holds the same line (row-level security, `core/db/row_security.py`):
this module decides which rows a statement may see (the caller's school; every school for an
operator or a named platform task, `platform_access`; none otherwise), and names the commands'
tasks (`name_commands`) and the schema owner's work (`owner_access`).
"""

from __future__ import annotations

import uuid
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import date
from enum import StrEnum
from functools import wraps
from typing import Any, Literal, TypeVar

import click
import structlog
from flask import Flask
from pydantic import BaseModel
from sqlalchemy import ColumnElement, Select, select

from backend.core.context import NO_ROWS, RowScope, maybe_request_context
from backend.core.dates import today_in
from backend.core.db import decide_request_scope_with, running_under
from backend.core.errors import Forbidden, NotFound, Unauthorized
from backend.core.extensions import db
from backend.core.markers import route_spec
from backend.core.models import Base

F = TypeVar("F", bound=Callable[..., Any])
M = TypeVar("M", bound=Base)
log = structlog.get_logger("homeroom.tenancy")

# -- Roles and the one permission table ------------------------------------------------------------


class Role(StrEnum):
    ADMIN = "admin"
    TEACHER = "teacher"
    PARENT = "parent"
    # Runs the platform: belongs to no school and reaches only ops.* (and its own account).
    OPERATOR = "operator"


# The roles a school's users have, and the only ones an admin can give.
SchoolRole = Literal["admin", "teacher", "parent"]
SCHOOL_ROLES = frozenset({Role.ADMIN, Role.TEACHER, Role.PARENT})

EVERYONE = SCHOOL_ROLES  # everyone in a school; operators are in none
ADMIN = frozenset({Role.ADMIN})
STAFF = frozenset({Role.ADMIN, Role.TEACHER})
OPERATOR = frozenset({Role.OPERATOR})

# permission -> roles allowed. Object-level rules (a parent sees only linked children, a teacher
# only students in their classes) live in the services, next to the query.
PERMISSIONS: dict[str, frozenset[Role]] = {
    "auth.self": SCHOOL_ROLES | OPERATOR,  # own profile, own sessions, own password
    "school.read": EVERYONE,  # the caller's own school and its settings
    "school.manage": ADMIN,
    "users.read": ADMIN,
    "users.manage": ADMIN,
    "students.read": EVERYONE,  # admins: the school; teachers: their classes; parents: their children
    "students.manage": ADMIN,
    "guardians.read": STAFF,
    "guardians.manage": ADMIN,
    "terms.read": EVERYONE,
    "terms.manage": ADMIN,
    "classes.read": STAFF,  # teachers: the classes they teach
    "classes.manage": ADMIN,
    "attendance.read": EVERYONE,  # a student's record, as students.read allows
    "attendance.record": STAFF,  # teachers: their classes; "excused" is for admins only
    "attendance.excuse": ADMIN,
    "grades.read": EVERYONE,  # parents see published assessments only
    "grades.record": STAFF,  # teachers: their classes
    "report_cards.read": EVERYONE,  # published: admins; parents their children's (link with grades)
    "report_cards.write": STAFF,  # comments, drafts, term results: teachers for their classes
    "report_cards.manage": ADMIN,  # grade scales, overall comments, publishing, the CSV and the ZIP
    "announcements.read": EVERYONE,  # their own feed: what was published to them
    "announcements.write": STAFF,  # admins: any audience; teachers: their own classes
    "dashboard.parent": frozenset({Role.PARENT}),
    "audit.read": ADMIN,
    "fees.read": frozenset({Role.ADMIN, Role.PARENT}),  # parents: children they may see fees of
    "fees.manage": ADMIN,
    "health.read": EVERYONE,  # teachers: allergies and alerts; parents: only with can_view_health
    "health.manage": ADMIN,
    "reports.read": STAFF,  # attendance reports: teachers for their classes
    "imports.manage": ADMIN,  # CSV imports of students, classes, enrollments, guardians
    "exports.read": EVERYONE,  # each kind also needs its own read permission (fees.read for invoices)
    "assistant.use": EVERYONE,  # answers only from what the caller may see through the rules above
    "knowledge.read": EVERYONE,  # the school's FAQ and policies; staff-only entries for staff
    "knowledge.manage": ADMIN,
    "integrations.manage": ADMIN,  # connect the school's accounting (Xero), its codes, a full sync
    "ops.read": OPERATOR,  # database health, backups, audit chains of every school
    "ops.manage": OPERATOR,  # scans, fixes, the fix switch, backups on demand
}


def allowed(role: Role | str, permission: str) -> bool:
    """Whether `role` holds `permission`; an unknown permission is a programming error."""
    return Role(role) in PERMISSIONS[permission]


# -- The caller ------------------------------------------------------------------------------------


@dataclass(frozen=True)
class AuthContext:
    """The signed-in caller, passed to every service: who, in which school, in what role, and the
    school's facts (its time zone and currency) that answers depend on."""

    user_id: uuid.UUID
    session_id: uuid.UUID
    school_id: uuid.UUID
    role: Role
    timezone: str
    currency: str

    def today(self) -> date:
        """Today in the school's time zone."""
        return today_in(self.timezone)

    def owns(self, model: type[Base]) -> ColumnElement[bool]:
        """The condition "this row is the caller's school's", for joins and subqueries."""
        return model.__table__.c.school_id == self.school_id

    def scoped(self, model: type[M]) -> Select[M]:
        """`SELECT model` limited to the caller's school: where every school-owned query starts."""
        return select(model).where(self.owns(model))

    def scoped_columns(self, model: type[Base], shape: type[BaseModel]) -> Select[Any]:
        """`SELECT` of just the columns `shape` (an output model) names, limited to the caller's
        school: for lists, whose rows go straight into the response type without ORM objects."""
        columns = model.__table__.c
        return select(*(columns[name] for name in shape.model_fields)).where(self.owns(model))

    def get_scoped(self, model: type[M], object_id: uuid.UUID, name: str) -> M:
        """One row of the caller's school, or 404 (another school's row is not confirmed to exist)."""
        row = db.session.scalar(self.scoped(model).where(model.__table__.c.id == object_id))
        if row is None:
            raise NotFound(f"{name} not found.")
        return row


@dataclass(frozen=True)
class OperatorContext:
    """A signed-in platform operator: no school, so no school-scoped query can be built for them."""

    user_id: uuid.UUID
    session_id: uuid.UUID
    role: Role = Role.OPERATOR
    school_id: None = None


Caller = AuthContext | OperatorContext


def current_caller() -> Caller:
    """Whoever signed in: a school user (`AuthContext`) or an operator (`OperatorContext`)."""
    context = maybe_request_context()
    caller = context.caller if context is not None else None
    if not isinstance(caller, AuthContext | OperatorContext):
        raise Unauthorized("An access token is required.")
    return caller


def current_auth() -> AuthContext:
    """The signed-in school user. Routes of school data reach this only after `@requires`, which
    no operator permission passes; an operator here is refused all the same."""
    caller = current_caller()
    if not isinstance(caller, AuthContext):
        raise Forbidden("Operators have no access to school records.")
    return caller


def current_operator() -> OperatorContext:
    caller = current_caller()
    if not isinstance(caller, OperatorContext):
        raise Forbidden("Only platform operators may do this.")
    return caller


def requires(permission: str) -> Callable[[F], F]:
    """Allow the view only to roles that hold `permission` in the permission table."""
    if permission not in PERMISSIONS:
        raise KeyError(f"unknown permission {permission!r}")

    def decorate(view: F) -> F:
        @wraps(view)
        def guarded(*args: Any, **kwargs: Any) -> Any:
            if not allowed(current_caller().role, permission):
                raise Forbidden("Your role does not allow this.")
            return view(*args, **kwargs)

        route_spec(guarded).permission = permission
        return guarded  # type: ignore[return-value]  # wraps() keeps the view's signature

    return decorate


def unprotected_routes(app: Flask) -> list[str]:
    """Rules whose view is neither public nor guarded by a permission (the route audit)."""
    problems = []
    for rule in app.url_map.iter_rules():
        view = app.view_functions.get(rule.endpoint)
        spec = route_spec(view)
        if not spec.public and spec.permission is None:
            methods = ",".join(sorted((rule.methods or set()) - {"HEAD", "OPTIONS"}))
            problems.append(f"{methods} {rule.rule} ({rule.endpoint})")
    return problems


# -- The same rule in the database (PostgreSQL row-level security, core/db/row_security.py) --------


def _request_row_scope() -> RowScope:
    """The rows a request's statements may see: its school user's school; every school's for an
    operator (platform work by role); none before sign-in or on a public route."""
    context = maybe_request_context()
    caller = context.caller if context is not None else None
    if isinstance(caller, AuthContext):
        return RowScope(school_id=str(caller.school_id))
    if isinstance(caller, OperatorContext):
        return OPERATOR_ROWS
    return NO_ROWS


OPERATOR_ROWS = RowScope(platform="operator")
decide_request_scope_with(_request_row_scope)


@contextmanager
def platform_access(task: str) -> Iterator[None]:
    """Every school's rows for the block: the named bypass for platform-wide work (backups, audit
    verification, metrics, CLI commands). The name is logged and set on the connection."""
    log.debug("platform_access", task=task)
    with running_under(RowScope(platform=task)):
        yield


@contextmanager
def owner_access(task: str) -> Iterator[None]:
    """The schema owner's connection for the block: schema changes (migrations, the doctor's
    fixes), which the app's role may not make."""
    log.info("owner_access", task=task)
    with running_under(RowScope(platform=task, owner=True)):
        yield


def name_commands(group: click.Group, prefix: str = "flask") -> None:
    """Run each CLI command of `group` (and its subgroups) as the platform task it names: a command
    is platform-wide work (`flask backup run` sees every school)."""
    for name, command in group.commands.items():
        if isinstance(command, click.Group):
            name_commands(command, f"{prefix} {name}")
        elif command.callback is not None and not getattr(command.callback, _NAMED, False):
            command.callback = _as_task(command.callback, f"{prefix} {name}")


_NAMED = "homeroom_platform_task"


def _as_task(callback: Callable[..., Any], task: str) -> Callable[..., Any]:
    @wraps(callback)
    def run(*args: Any, **kwargs: Any) -> Any:
        with platform_access(task):
            return callback(*args, **kwargs)

    setattr(run, _NAMED, True)
    return run
