"""Facts about named students beyond their marks: classes and teachers, enrolment, guardians, and
the overview a bare name or admission number asks for ("show me D-007")."""

from __future__ import annotations

from sqlalchemy import select

from backend.assistant.facts import Fact, attendance_summary, day, grades, subject_of
from backend.assistant.naming import StudentRef
from backend.assistant.understanding import Question
from backend.auth import User
from backend.classes import Enrollment, SchoolClass, Term
from backend.core.extensions import db
from backend.students import guardian_link, list_guardians, visible_student
from backend.tenancy import AuthContext, allowed


def _current_classes(auth: AuthContext, student: StudentRef) -> list[tuple[str, str, str, str | None]]:
    visible_student(auth, student.id)
    today = auth.today()
    rows = db.session.execute(
        select(SchoolClass.name, SchoolClass.subject, Term.name, User.full_name)
        .join(Enrollment, Enrollment.class_id == SchoolClass.id)
        .join(Term, Term.id == SchoolClass.term_id)
        .outerjoin(User, User.id == SchoolClass.teacher_id)
        .where(
            auth.owns(SchoolClass),
            Enrollment.student_id == student.id,
            Term.ends_on >= today,
            Term.starts_on <= today,
        )
        .order_by(SchoolClass.name)
    )
    return [(name, subject, term, teacher) for name, subject, term, teacher in rows]


def classes(auth: AuthContext, question: Question, students: list[StudentRef]) -> list[Fact]:
    """A student's current classes with their teachers; "who teaches Ada maths" names the teacher."""
    facts = []
    for student in students:
        rows = _current_classes(auth, student)
        if question.subjects:
            asked = [row for row in rows if subject_of(row[0] + " " + row[1]) & set(question.subjects)]
            if not asked:
                wanted = " or ".join(s.title() for s in question.subjects)
                article = "an" if wanted[0] in "AEIOU" else "a"
                facts.append(Fact(f"{student.name} is not in {article} {wanted} class this term."))
            rows = asked or rows
        if not rows:
            facts.append(Fact(f"{student.name} is not enrolled in any current class."))
        for name, subject, term, teacher in rows:
            taught = f", taught by {teacher}" if teacher else ", with no teacher assigned yet"
            facts.append(Fact(f"{student.name} is in {name} ({subject}, {term}){taught}."))
    return facts


def enrollment(auth: AuthContext, question: Question, students: list[StudentRef]) -> list[Fact]:
    facts = []
    for ref in students:
        student = visible_student(auth, ref.id)
        left = f", left on {day(student.left_on)}" if student.left_on else ""
        facts.append(
            Fact(
                f"{ref.name}: admission number {student.admission_number}, "
                f"grade level {student.grade_level}, "
                f"status {student.status}, enrolled on {day(student.enrolled_on)}{left}."
            )
        )
    return facts


def guardians(auth: AuthContext, question: Question, students: list[StudentRef]) -> list[Fact]:
    facts = []
    for student in students:
        if allowed(auth.role, "guardians.read"):
            links = list_guardians(auth, student.id)
            if not links:
                facts.append(Fact(f"{student.name} has no linked guardians."))
            for g in links:
                primary = ", primary contact" if g.is_primary else ""
                facts.append(Fact(f"{student.name} — {g.full_name} ({g.relationship}{primary}), {g.email}."))
            continue
        link = guardian_link(auth, student.id)
        me = db.session.get(User, auth.user_id)
        if link is not None and me is not None:
            yes = {True: "yes", False: "no"}
            facts.append(
                Fact(
                    f"You ({me.full_name}, {me.email}) are linked to {student.name} as {link.relationship}"
                    f"{' (primary contact)' if link.is_primary else ''}; you can see fees: "
                    f"{yes[link.can_view_finance]}; health information: {yes[link.can_view_health]}."
                )
            )
    return facts


def overview(auth: AuthContext, question: Question, students: list[StudentRef]) -> list[Fact]:
    """A student at a glance: enrolment, classes, this term's attendance and grades."""
    facts = enrollment(auth, question, students)
    facts += classes(auth, question, students)
    if allowed(auth.role, "attendance.read"):
        facts += [attendance_summary(auth, student) for student in students]
    if allowed(auth.role, "grades.read"):
        facts += [f for f in grades(auth, question, students) if "average" in f.text]
    return facts
