"""Build the demo school: every row in one transaction, reproducible from a fixed random seed."""

from __future__ import annotations

import random
import secrets
import uuid
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from datetime import date, timedelta
from decimal import Decimal

from sqlalchemy import select

from backend import audit
from backend.announcements import Announcement, AnnouncementAudience, publish, render
from backend.attendance import AttendanceRecord, AttendanceStatus
from backend.auth import User, password_hasher
from backend.classes import Enrollment, SchoolClass, Term
from backend.core.dates import today_in
from backend.core.extensions import db
from backend.demo.records import fees_for, health_for, knowledge_for
from backend.grades import Assessment, Grade, GradeStatus
from backend.reportcards import GradeScale
from backend.schools import School
from backend.students import GuardianLink, Student
from backend.tenancy import Role

SLUG = "demo-school"
STUDENTS_PER_CLASS = 30
STUDENTS = 2 * STUDENTS_PER_CLASS
# The school's default grade scale, for its term reports.
LETTER_BANDS = [
    {"min": "90", "label": "A*"},
    {"min": "80", "label": "A"},
    {"min": "70", "label": "B"},
    {"min": "60", "label": "C"},
    {"min": "50", "label": "D"},
    {"min": "40", "label": "E"},
    {"min": "0", "label": "U"},
]
FIRST = [
    "Ada",
    "Ben",
    "Cleo",
    "Dev",
    "Ema",
    "Finn",
    "Gia",
    "Hugo",
    "Iris",
    "Jai",
    "Kira",
    "Leo",
    "Mia",
    "Noah",
    "Owen",
    "Pia",
    "Quin",
    "Ravi",
    "Sara",
    "Theo",
    "Uma",
    "Vik",
    "Wren",
    "Xan",
    "Yara",
    "Zoe",
]
LAST = [
    "Adams",
    "Baker",
    "Clark",
    "Diaz",
    "Evans",
    "Fox",
    "Gray",
    "Hill",
    "Ito",
    "Jones",
    "Khan",
    "Lopez",
    "Moore",
    "Nash",
    "Okafor",
    "Patel",
    "Quinn",
    "Reed",
    "Singh",
    "Turner",
]
STATUS_WEIGHTS = {
    AttendanceStatus.PRESENT: 90,
    AttendanceStatus.LATE: 4,
    AttendanceStatus.ABSENT: 4,
    AttendanceStatus.EXCUSED: 1,
    AttendanceStatus.LEFT_EARLY: 1,
}


@dataclass(frozen=True)
class DemoLogins:
    school_created: bool
    admin: str
    teachers: list[str]
    parents: list[str]
    password: str | None  # shown only when the school was created just now


Progress = Callable[[int], None]


def _logins(school_id: uuid.UUID, password: str | None, created: bool) -> DemoLogins:
    def emails(role: Role) -> list[str]:
        found = db.session.scalars(
            select(User.email).where(User.school_id == school_id, User.role == role.value)
        )
        return sorted(found, key=lambda email: (len(email), email))  # parent2 before parent10

    return DemoLogins(created, emails(Role.ADMIN)[0], emails(Role.TEACHER), emails(Role.PARENT)[:3], password)


def _school_days(start: date, end: date) -> Iterator[date]:
    day = start
    while day <= end:
        if day.weekday() < 5:
            yield day
        day += timedelta(days=1)


def existing_demo() -> DemoLogins | None:
    """The demo school's logins if it was created before."""
    school_id = db.session.scalar(select(School.id).where(School.slug == SLUG))
    return None if school_id is None else _logins(school_id, None, created=False)


WELCOME = """Welcome to Homeroom, the school's new home for **attendance, grades, fees and reports**.

- Check your child's day on the dashboard.
- Turn email notifications on or off under *Settings*.

Questions? Reply to the school office."""


def _notices(
    school_id: uuid.UUID, admin: User, teacher: User, school_class: SchoolClass, today: date
) -> None:
    """Two published announcements: the admin's pinned welcome to the whole school, and a teacher's
    note to their class's families."""
    pinned = today + timedelta(days=14)
    notices = [
        (admin, "Welcome to Homeroom", WELCOME, AnnouncementAudience.SCHOOL, None, pinned),
        (teacher, f"{school_class.name}: quiz on Friday", "Revise *fractions*.", AnnouncementAudience.CLASS,
         school_class.id, None),
    ]  # fmt: skip
    for author, title, body, audience, class_id, pinned_until in notices:
        notice = Announcement(
            school_id=school_id,
            author_id=author.id,
            title=title,
            body=body,
            body_html=render(body),
            audience=audience.value,
            class_id=class_id,
            pinned_until=pinned_until,
            urgent=False,
            recipient_count=0,
        )
        db.session.add(notice)
        publish(notice, audit.ActingUser(author.id, author.role, school_id))


def seed(progress: Progress) -> DemoLogins:
    """Create the demo school, calling `progress(1)` per student; one transaction, all or nothing."""
    rng = random.Random(2026)  # noqa: S311 - demo data, not security
    password = secrets.token_urlsafe(12)
    password_hash = password_hasher().hash(password)

    school = School(name="Demo School", slug=SLUG, timezone="Europe/London", currency="GBP")
    db.session.add(school)
    db.session.flush()
    audit.start_chain(school.id)
    today = today_in(school.timezone)

    def user(email: str, name: str, role: Role) -> User:
        account = User(
            school_id=school.id, email=email, full_name=name, role=role.value, password_hash=password_hash
        )
        db.session.add(account)
        return account

    admin = user("admin@demo-school.example.org", "Demo Admin", Role.ADMIN)
    teachers = [user(f"teacher{i}@demo-school.example.org", f"Teacher {i}", Role.TEACHER) for i in (1, 2)]
    term = Term(
        school_id=school.id,
        name="Current term",
        starts_on=today - timedelta(days=45),
        ends_on=today + timedelta(days=45),
    )
    db.session.add(term)
    db.session.flush()
    classes = [
        SchoolClass(
            school_id=school.id,
            name=f"Year 5 {subject}",
            subject=subject,
            grade_level=5,
            term_id=term.id,
            teacher_id=teacher.id,
        )
        for subject, teacher in zip(("Maths", "English"), teachers, strict=True)
    ]
    db.session.add_all(classes)
    db.session.add(
        GradeScale(
            school_id=school.id, name="Letters (A* to U)", bands=LETTER_BANDS, decimals=1, is_default=True
        )
    )
    db.session.flush()
    days = list(_school_days(term.starts_on, today))

    statuses, weights = list(STATUS_WEIGHTS), list(STATUS_WEIGHTS.values())
    assessments = {
        c.id: [
            Assessment(
                school_id=school.id,
                class_id=c.id,
                title=f"{c.subject} test {n}",
                category="test",
                max_score=Decimal(50),
                weight=Decimal(n),
                due_on=today - timedelta(days=40 - 10 * n),
                published=n < 4,
            )
            for n in (1, 2, 3, 4)
        ]
        for c in classes
    }
    db.session.add_all([a for group in assessments.values() for a in group])
    db.session.flush()
    students: list[Student] = []
    for number in range(STUDENTS):
        school_class = classes[number % 2]
        first, last = rng.choice(FIRST), rng.choice(LAST)
        student = Student(
            school_id=school.id,
            admission_number=f"D-{number + 1:03d}",
            first_name=first,
            last_name=last,
            date_of_birth=date(today.year - 10, rng.randint(1, 12), rng.randint(1, 28)),
            grade_level=5,
            enrolled_on=term.starts_on - timedelta(days=365),
        )
        parent = user(
            f"parent{number + 1}@demo-school.example.org", f"{rng.choice(FIRST)} {last}", Role.PARENT
        )
        db.session.add(student)
        db.session.flush()
        students.append(student)
        db.session.add_all(
            [
                Enrollment(school_id=school.id, class_id=school_class.id, student_id=student.id),
                GuardianLink(
                    school_id=school.id,
                    student_id=student.id,
                    user_id=parent.id,
                    relationship="parent",
                    is_primary=True,
                    can_view_finance=True,
                    can_view_health=True,
                ),
                *[
                    AttendanceRecord(
                        school_id=school.id,
                        student_id=student.id,
                        class_id=school_class.id,
                        on_date=day,
                        status=rng.choices(statuses, weights)[0].value,
                        recorded_by=school_class.teacher_id,
                    )
                    for day in days
                ],
                *[
                    Grade(
                        school_id=school.id,
                        assessment_id=a.id,
                        student_id=student.id,
                        status=GradeStatus.GRADED.value,
                        score=Decimal(rng.randint(20, 50)),
                        graded_by=school_class.teacher_id,
                    )
                    for a in assessments[school_class.id]
                ],
            ]
        )
        progress(1)
    db.session.add_all(
        [
            *fees_for(school.id, students, admin.id, today),
            *health_for(school.id, students, admin.id),
            *knowledge_for(school.id, admin.id),
        ]
    )
    _notices(school.id, admin, teachers[0], classes[0], today)
    audit.record(
        None,
        "demo.seed",
        resource_type="school",
        resource_id=school.id,
        school_id=school.id,
        changes={"students": STUDENTS, "classes": len(classes), "school_days": len(days)},
    )
    db.session.commit()
    return _logins(school.id, password, created=True)
