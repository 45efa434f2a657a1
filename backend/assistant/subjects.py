"""Which students a question is about: names resolved only among the students the caller can see.

A name that matches none of them is reported back as not found "among the students you can see",
which is as true for another school's student as for a name nobody has: nothing is confirmed.
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass

from sqlalchemy import func, or_

from backend.assistant.understanding import NOT_NAMES, Question
from backend.core.extensions import db
from backend.students import Student, visible_student, visible_students
from backend.tenancy import AuthContext, Role

MAX_STUDENTS = 5  # a question about more students than this is answered for the first five
MAX_CHILDREN = 10


@dataclass(frozen=True)
class StudentRef:
    id: uuid.UUID
    first_name: str
    last_name: str
    admission_number: str

    @property
    def name(self) -> str:
        return f"{self.first_name} {self.last_name}"

    @classmethod
    def of(cls, student: Student) -> StudentRef:
        return cls(student.id, student.first_name, student.last_name, student.admission_number)


@dataclass(frozen=True)
class Subjects:
    students: list[StudentRef]
    unmatched: list[str]  # names asked about that match no student the caller can see


def _score(student: Student, tokens: set[str]) -> int:
    if student.admission_number.lower() in tokens:
        return 3
    return int(student.first_name.lower() in tokens) + int(student.last_name.lower() in tokens)


def _lookup(auth: AuthContext, tokens: set[str]) -> list[Student]:
    if not tokens:
        return []
    return list(
        db.session.scalars(
            auth.scoped(Student)
            .where(
                visible_students(auth),
                or_(
                    func.lower(Student.first_name).in_(tokens),
                    func.lower(Student.last_name).in_(tokens),
                    func.lower(Student.admission_number).in_(tokens),
                ),
            )
            .order_by(Student.last_name, Student.first_name, Student.id)
            .limit(50)
        )
    )


def _best(students: list[Student], tokens: set[str]) -> list[StudentRef]:
    if not students:
        return []
    scores = {student.id: _score(student, tokens) for student in students}
    top = max(scores.values())
    return [StudentRef.of(s) for s in students if scores[s.id] == top][:MAX_STUDENTS]


def _matched(ref: StudentRef, word: str) -> bool:
    return word.lower() in (ref.first_name.lower(), ref.last_name.lower(), ref.admission_number.lower())


def resolve(auth: AuthContext, question: Question, student_id: uuid.UUID | None) -> Subjects:
    """The students the question is about. An explicit `student_id` the caller may not see is a 404."""
    if student_id is not None:
        return Subjects([StudentRef.of(visible_student(auth, student_id))], [])
    named = {word.lower() for word in question.name_words}
    found = _best(_lookup(auth, named), named)
    if not found:  # names typed in lower case
        words = {w.removesuffix("'s") for w in question.words if len(w) > 1} - NOT_NAMES
        found = _best(_lookup(auth, words), words)
    unmatched = [word for word in question.name_words if not any(_matched(ref, word) for ref in found)]
    if not found and not unmatched and auth.role == Role.PARENT:
        children = db.session.scalars(
            auth.scoped(Student)
            .where(visible_students(auth))
            .order_by(Student.first_name, Student.id)
            .limit(MAX_CHILDREN)
        )
        found = [StudentRef.of(child) for child in children]
    return Subjects(found, unmatched)
