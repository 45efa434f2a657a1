"""The load suite's school: `flask demo seed`'s demo school, plus a class of 30 new students for
every teacher user (each register and grade book has one writer, so the checker knows what each
row must hold), a parent account for each of those students and a few more admins.

Written to `school.json` for the Locust process, which imports nothing from the app."""

from __future__ import annotations

import json
import random
import uuid
from datetime import date, timedelta
from pathlib import Path
from typing import Any

from bench.common import seed_demo_school

STUDENTS_PER_CLASS = 30
EMAIL_DOMAIN = "demo-school.example.org"
LAST_NAMES = ("Abbott", "Bishop", "Carver", "Dalton", "Ellis", "Fraser", "Grant", "Hayes", "Irwin", "Jordan")


def _accounts(school_id: uuid.UUID, password_hash: str, role: str, emails: list[str]) -> list[Any]:
    from backend.auth import User

    return [
        User(
            school_id=school_id,
            email=email,
            full_name=email.split("@")[0],
            role=role,
            password_hash=password_hash,
        )
        for email in emails
    ]


def _class_of(
    number: int, school_id: uuid.UUID, term_id: uuid.UUID, password_hash: str
) -> tuple[Any, list[Any]]:
    """One teacher with a class of new students, each with a parent account: (class, rows)."""
    from backend.classes import Enrollment, SchoolClass
    from backend.students import GuardianLink, Student

    rng = random.Random(number)
    teacher = _accounts(school_id, password_hash, "teacher", [f"lteacher{number}@{EMAIL_DOMAIN}"])[0]
    teacher.id = uuid.uuid4()
    school_class = SchoolClass(
        id=uuid.uuid4(),
        school_id=school_id,
        name=f"Load class {number}",
        subject="Science",
        grade_level=5,
        term_id=term_id,
        teacher_id=teacher.id,
    )
    rows: list[Any] = [teacher, school_class]
    for seat in range(STUDENTS_PER_CLASS):
        index = number * STUDENTS_PER_CLASS + seat
        student = Student(
            id=uuid.uuid4(),
            school_id=school_id,
            admission_number=f"L-{index:05d}",
            first_name=f"Pupil{index}",
            last_name=rng.choice(LAST_NAMES),
            date_of_birth=date(2015, 1 + seat % 12, 1 + seat % 28),
            grade_level=5,
            enrolled_on=date(2024, 9, 1),
        )
        parent = _accounts(school_id, password_hash, "parent", [f"lparent{index}@{EMAIL_DOMAIN}"])[0]
        parent.id = uuid.uuid4()
        rows += [
            student,
            parent,
            Enrollment(school_id=school_id, class_id=school_class.id, student_id=student.id),
            GuardianLink(
                school_id=school_id,
                student_id=student.id,
                user_id=parent.id,
                relationship="parent",
                is_primary=True,
                can_view_finance=True,
                can_view_health=True,
            ),
        ]
    return school_class, rows


def _register_days(today: date, count: int = 20) -> list[str]:
    """Weekdays before today (never today: the school's clock may be a day behind ours)."""
    days: list[str] = []
    day = today - timedelta(days=1)
    while len(days) < count:
        if day.weekday() < 5:
            days.append(day.isoformat())
        day -= timedelta(days=1)
    return days


def _add_extras(database_url: str, teachers: int, admins: int, settings: dict[str, str]) -> dict[str, Any]:
    from sqlalchemy import select

    from backend import create_app
    from backend.auth import User
    from backend.classes import Enrollment, Term
    from backend.config import settings_from
    from backend.core.db import dispose_pools
    from backend.core.extensions import db
    from backend.students import Student
    from backend.tenancy import platform_access

    app = create_app(
        settings_from(
            APP_ENV="testing", DATABASE_URL=database_url, LOG_LEVEL="WARNING", LOG_FORMAT="json", **settings
        )
    )
    with app.app_context(), platform_access("bench seed"):
        admin = db.session.scalars(select(User).where(User.role == "admin")).one()
        school_id, password_hash, admin_email = admin.school_id, admin.password_hash, admin.email
        assert school_id is not None
        term_id = db.session.scalars(select(Term.id).where(Term.school_id == school_id)).one()
        extra_admins = [f"ladmin{n}@{EMAIL_DOMAIN}" for n in range(1, admins)]
        db.session.add_all(_accounts(school_id, password_hash, "admin", extra_admins))
        made = [_class_of(number, school_id, term_id, password_hash) for number in range(teachers)]
        classes = [school_class for school_class, _ in made]
        rows = [row for _, group in made for row in group]
        # No relationships between these models: insert parents of foreign keys first, by hand.
        for kind in ("User", "SchoolClass", "Student", "Enrollment", "GuardianLink"):
            db.session.add_all([row for row in rows if type(row).__name__ == kind])
            db.session.flush()
        db.session.commit()
        roster = {
            str(c.id): [
                str(i)
                for i in db.session.scalars(select(Enrollment.student_id).where(Enrollment.class_id == c.id))
            ]
            for c in classes
        }
        students = [
            str(i) for i in db.session.scalars(select(Student.id).where(Student.school_id == school_id))
        ]
        parents = list(
            db.session.scalars(select(User.email).where(User.role == "parent").order_by(User.email))
        )
        names = sorted(set(db.session.scalars(select(Student.last_name))))
    dispose_pools(app)
    return {
        "admins": [admin_email, *extra_admins],
        "teachers": [
            {"email": f"lteacher{n}@{EMAIL_DOMAIN}", "class_id": str(c.id), "students": roster[str(c.id)]}
            for n, c in enumerate(classes)
        ],
        "parents": parents,
        "students": students,
        "search_terms": names,
    }


def seed_load_school(
    database_url: str, teachers: int, admins: int, path: Path, settings: dict[str, str]
) -> dict[str, Any]:
    """Migrate, seed and extend the school (with the server's `settings`: its encryption key);
    write what the users need to `path`."""
    demo = seed_demo_school(database_url, **settings)
    school = {
        "password": demo.password,
        "register_days": _register_days(date.today()),
        **_add_extras(database_url, teachers, admins, settings),
    }
    path.write_text(json.dumps(school, indent=1))
    return school
