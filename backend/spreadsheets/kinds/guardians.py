"""Guardians from CSV, matched by student and email: each row links a parent to a student with a
relationship and what the parent may see. An email without an account gets a new parent account
(invited by email when asked); an email of an account that is not a parent of this school is
refused."""

from __future__ import annotations

import uuid
from typing import Annotated, Any

from pydantic import BeforeValidator, EmailStr, StringConstraints
from sqlalchemy import func, select

from backend import audit
from backend.auth import NO_PASSWORD_YET, User, invite
from backend.core.csvfile import CellError
from backend.core.extensions import db
from backend.spreadsheets.kinds.common import NO_SUCH_STUDENT, AdmissionNumber, Kind, Rows, students_numbered
from backend.spreadsheets.plans import Plan, RowModel, Step, flag, parse, step_for, unique_keys, update_from
from backend.students import GuardianLink, Student
from backend.tenancy import AuthContext, Role

Flag = Annotated[bool, BeforeValidator(flag)]


class GuardianRow(RowModel):
    admission_number: AdmissionNumber
    email: EmailStr
    full_name: Annotated[str, StringConstraints(min_length=1, max_length=200)]
    relationship: Annotated[str, StringConstraints(min_length=1, max_length=32)]
    is_primary: Flag = False
    can_view_finance: Flag = False
    can_view_health: Flag = False


LINK_FIELDS = ("relationship", "is_primary", "can_view_finance", "can_view_health")


def _users_by_email(emails: set[str]) -> dict[str, User]:
    """Accounts with these emails, in any school (an email names one account everywhere)."""
    return {u.email: u for u in db.session.scalars(select(User).where(func.lower(User.email).in_(emails)))}


def _links(
    auth: AuthContext, students: dict[str, Student]
) -> dict[tuple[uuid.UUID, uuid.UUID], GuardianLink]:
    """These students' guardian links by (student, user)."""
    statement = auth.scoped(GuardianLink).where(
        GuardianLink.student_id.in_([s.id for s in students.values()])
    )
    return {(link.student_id, link.user_id): link for link in db.session.scalars(statement)}


def _guardian_problems(
    auth: AuthContext, number: int, student: Student | None, user: User | None
) -> list[CellError]:
    problems = []
    if student is None:
        problems.append(CellError(number, "admission_number", NO_SUCH_STUDENT))
    if user is not None and (user.school_id != auth.school_id or user.role != Role.PARENT):
        problems.append(
            CellError(
                number, "email", "This email belongs to an account that is not a parent of this school."
            )
        )
    return problems


def plan_guardians(auth: AuthContext, rows: Rows) -> Plan:
    plan = Plan()
    parsed = unique_keys(
        parse(GuardianRow, rows, plan.errors),
        lambda r: (r.admission_number, str(r.email).lower()),
        "email",
        plan.errors,
    )
    students = students_numbered(auth, {r.admission_number for _n, r in parsed})
    users = _users_by_email({str(r.email).lower() for _n, r in parsed})
    links = _links(auth, students)
    for number, record in parsed:
        email = str(record.email).lower()
        student, user = students.get(record.admission_number), users.get(email)
        problems = _guardian_problems(auth, number, student, user)
        plan.errors += problems
        if student is None or problems:
            continue
        values = {name: getattr(record, name) for name in LINK_FIELDS}
        link = links.get((student.id, user.id)) if user is not None else None
        record_values = {**values, "student_id": student.id, "email": email, "full_name": record.full_name}
        plan.steps.append(step_for(number, record_values, link, values))
    return plan


def _new_parent(auth: AuthContext, email: str, full_name: str, send_invitation: bool) -> User:
    """A new parent account in the school for an email no account has, with no password yet."""
    user = User(
        id=uuid.uuid4(),
        school_id=auth.school_id,
        email=email,
        full_name=full_name,
        role=Role.PARENT.value,
        password_hash=NO_PASSWORD_YET,
        is_active=True,
    )
    db.session.add(user)
    audit.record(
        auth, "user.create", resource=user, resource_type="user", changes={"email": email, "role": "parent"}
    )
    if send_invitation:
        invite(auth, user)
    return user


def _link(auth: AuthContext, step: Step, user: User) -> None:
    values: dict[str, Any] = {name: step.record[name] for name in LINK_FIELDS}
    link = GuardianLink(
        id=uuid.uuid4(),
        school_id=auth.school_id,
        student_id=step.record["student_id"],
        user_id=user.id,
        **values,
    )
    db.session.add(link)
    audit.record(auth, "guardian.link", resource=link, resource_type="guardian_link", changes=values)


def apply_guardians(auth: AuthContext, plan: Plan, send_invitations: bool) -> None:
    accounts: dict[str, User] = {}
    for step in plan.steps:
        if step.action == "update":
            update_from(step)
            audit.record(
                auth,
                "guardian.update",
                resource=step.target,
                resource_type="guardian_link",
                changes=step.changes,
            )
            continue
        if step.action != "create":
            continue
        email = step.record["email"]
        user = accounts.get(email) or db.session.scalar(select(User).where(User.email == email))
        if user is None:
            user = _new_parent(auth, email, step.record["full_name"], send_invitations)
        accounts[email] = user
        _link(auth, step, user)


GUARDIANS = Kind(
    "guardians",
    tuple(GuardianRow.model_fields),
    ("admission_number", "email", "full_name", "relationship"),
    plan_guardians,
    apply_guardians,
)
