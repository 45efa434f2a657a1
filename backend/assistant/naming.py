"""Which students and classes a question names, looked up only among those the caller can see.

A student is named by first name, surname or both, in any case, possessive, with a light typo
(rapidfuzz: one letter or two swapped, two in long names), or by admission number as
printed ("D-007") or typed ("d007", "D7"). A name that matches none of the caller's students is
reported back as not found "among the students you can see", which is as true for another
school's student as for a name nobody has: nothing is confirmed.
"""

from __future__ import annotations

import re
import uuid
from dataclasses import dataclass, field

from rapidfuzz.distance import OSA
from sqlalchemy import Select, select

from backend.assistant.understanding import Question
from backend.assistant.vocabulary import COMMON, canonical_subject
from backend.auth import User
from backend.classes import Enrollment, SchoolClass, Term, visible_classes
from backend.core.extensions import db
from backend.students import Student, visible_student, visible_students
from backend.tenancy import AuthContext, Role

MAX_STUDENTS = 3  # more students than this answer to a name: ask which one
MAX_CANDIDATES = 5000
EXACT, POSSESSIVE, NEAR, NUMBER = 4, 3, 1, 10


@dataclass(frozen=True)
class StudentRef:
    id: uuid.UUID
    first_name: str
    last_name: str
    admission_number: str

    @property
    def name(self) -> str:
        return f"{self.first_name} {self.last_name}"

    @property
    def label(self) -> str:
        return f"{self.name} ({self.admission_number})"

    @classmethod
    def of(cls, student: Student) -> StudentRef:
        return cls(student.id, student.first_name, student.last_name, student.admission_number)


@dataclass(frozen=True)
class Named:
    students: list[StudentRef]
    unmatched: list[str]  # names asked about that match no student the caller can see
    guesses: list[str] = field(default_factory=list)  # "I took 'Sarra' to mean Sara Patel."
    ambiguous: list[StudentRef] = field(default_factory=list)  # too many answer to the name


def _compact(value: str) -> tuple[str, int] | None:
    """An admission number's letters and number ("D-007" -> ("d", 7)); None without digits."""
    match = re.fullmatch(r"([a-z]*)[\s\-_/#]*0*(\d+)", value.lower())
    return (match[1], int(match[2])) if match else None


def _near(word: str, name: str) -> bool:
    """A slip of one letter (two in names of seven or more), or a possessive without its
    apostrophe ("Graays"); four-letter names are too alike (Sara, Yara) to be guessed at."""
    if len(word) < 5 or word in COMMON or not word.isalpha() or len(name) < 4:
        return False
    allowed = 2 if len(name) >= 7 else 1
    return any(
        OSA.distance(form, name, score_cutoff=allowed) <= allowed for form in {word, word.removesuffix("s")}
    )


def _name_parts(value: str) -> set[str]:
    return {part for part in re.split(r"[\s\-]+", value.lower()) if part}


def _score(ref: StudentRef, words: set[str], numbers: set[tuple[str, int]]) -> tuple[int, bool]:
    """How well a student answers to the question's words, and whether only by a typo."""
    if (number := _compact(ref.admission_number)) and number in numbers:
        return NUMBER, False
    exact = near = 0
    for part in (_name_parts(ref.first_name), _name_parts(ref.last_name)):
        if part & words:
            exact += EXACT
        elif part & {w[:-1] for w in words if w.endswith("s") and len(w) > 3}:
            exact += POSSESSIVE  # "Zoes admission number": a possessive without its apostrophe
        elif any(_near(word, name) for word in words for name in part):
            near += NEAR
    return exact + near, exact == 0 and near > 0


def _candidates(auth: AuthContext) -> list[StudentRef]:
    """The students the caller can see: four columns each, one query."""
    columns = (Student.id, Student.first_name, Student.last_name, Student.admission_number)
    rows = db.session.execute(
        auth.scoped(Student)
        .with_only_columns(*columns)
        .where(visible_students(auth))
        .order_by(Student.last_name, Student.first_name, Student.id)
        .limit(MAX_CANDIDATES)
    )
    return [StudentRef(*row) for row in rows]


def _words(question: Question) -> tuple[set[str], set[tuple[str, int]]]:
    words = {w.lower() for w in question.name_words} | {w for w in question.words if w not in COMMON}
    words = {w for w in words if len(w) > 1}
    numbers = {
        n for w in words | set(question.name_words) if (n := _compact(w)) and any(c.isdigit() for c in w)
    }
    return {w for w in words if w.isalpha() or "-" in w or "'" in w}, numbers


def _unmatched(question: Question, found: list[StudentRef], prefixes: set[str]) -> list[str]:
    """Name words no found student answers to; admission-like ones only in the school's format."""
    left = []
    for word in question.name_words:
        number = _compact(word) if any(c.isdigit() for c in word) else None
        if number is not None and number[0] not in prefixes:
            continue  # "INV-0007" or "Year 5": not an admission number
        if not any(_score(ref, {word.lower()}, {number} if number else set())[0] for ref in found):
            left.append(word)
    return left


def _other_full_name(text: str, found: list[StudentRef], unmatched: list[str]) -> str | None:
    """A first and last name asked together of which only one part matches: someone else."""
    for ref in found:
        for part in (ref.first_name, ref.last_name):
            for word in [w for w in unmatched if not _score(ref, {w.lower()}, set())[0]]:
                for pair in (f"{part} {word}", f"{word} {part}"):
                    if re.search(rf"\b{re.escape(pair)}\b", text, re.IGNORECASE):
                        return pair
    return None


def _best(candidates: list[StudentRef], question: Question) -> tuple[list[tuple[StudentRef, bool]], int]:
    """The students that answer best to the question's words (with whether only by a slip)."""
    words, numbers = _words(question)
    scored = [(ref, *_score(ref, words, numbers)) for ref in candidates]
    top = max((score for _ref, score, _typo in scored), default=0)
    return [(ref, typo) for ref, score, typo in scored if score == top and top > 0], top


def resolve(auth: AuthContext, question: Question, student_id: uuid.UUID | None) -> Named:
    """The students the question is about. An explicit `student_id` the caller may not see is a 404."""
    if student_id is not None:
        return Named([StudentRef.of(visible_student(auth, student_id))], [])
    candidates = _candidates(auth)
    best, top = _best(candidates, question)
    found = [ref for ref, _typo in best]
    guessed = [ref for ref, typo in best if typo]
    if len(best) > MAX_STUDENTS or len(guessed) > 1:
        return Named([], [], ambiguous=found)  # a name or a slip that fits several: ask which
    prefixes = {p[0] for ref in candidates if (p := _compact(ref.admission_number))}
    unmatched = _unmatched(question, found, prefixes)
    if top < 2 * EXACT and (full := _other_full_name(question.text, found, unmatched)):
        return Named([], [full])  # "Sara Jones" is not the Sara Moore the caller teaches
    if guessed:
        return Named(found, [], [f"I took your question to be about {guessed[0].name}."])
    if not found and not unmatched and auth.role == Role.PARENT:
        found = candidates[:10]  # "my child", "my son": the caller's children
    return Named(found, unmatched)


@dataclass(frozen=True)
class ClassRef:
    id: uuid.UUID
    name: str
    subject: str
    teacher: str | None
    term: str


def _class_rows(auth: AuthContext) -> list[ClassRef]:
    columns = (SchoolClass.id, SchoolClass.name, SchoolClass.subject, User.full_name, Term.name)
    today = auth.today()
    if auth.role == Role.PARENT:
        statement = (
            select(*columns)
            .join(Enrollment, Enrollment.class_id == SchoolClass.id)
            .where(auth.owns(SchoolClass), Enrollment.student_id.in_(_children(auth)))
        )
    else:
        statement = visible_classes(auth).with_only_columns(*columns)
    rows = db.session.execute(
        statement.join(Term, Term.id == SchoolClass.term_id)
        .outerjoin(User, User.id == SchoolClass.teacher_id)
        .where(Term.ends_on >= today, Term.starts_on <= today)
        .order_by(SchoolClass.name)
        .limit(200)
    )
    return [ClassRef(*row) for row in rows.unique().all()]


def _children(auth: AuthContext) -> Select[tuple[uuid.UUID]]:
    return auth.scoped(Student).where(visible_students(auth)).with_only_columns(Student.id)


def classes_named(auth: AuthContext, question: Question) -> tuple[list[ClassRef], list[ClassRef]]:
    """The caller's current classes the question names (by name or subject), and all of them."""
    mine = _class_rows(auth)
    lowered = " ".join(question.words)
    year = re.search(r"\b(?:year|yr|y|grade)\s?(\d{1,2})\b", lowered)
    named = [
        c
        for c in mine
        if c.name.lower() in lowered
        or (c.teacher and re.search(rf"\b{re.escape(c.teacher.lower())}\b", lowered))
        or (
            canonical_subject(c.subject) in question.subjects
            and (year is None or year[1] in re.findall(r"\d+", c.name))
        )
    ]
    return named, mine
