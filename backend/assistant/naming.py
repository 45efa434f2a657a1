"""Which students and classes a question names, looked up only among those the caller can see.

A student is named by first name, surname or both, in any case, possessive, with a light typo
(rapidfuzz: one letter or two swapped, two in long names), or by admission number as
printed ("D-007") or typed ("d007", "D7"). A name that matches none of the caller's students is
reported back as not found "among the students you can see", which is as true for another
school's student as for a name nobody has: nothing is confirmed.
"""

from __future__ import annotations

import itertools
import re
import uuid
from dataclasses import dataclass, field

from rapidfuzz.distance import OSA
from sqlalchemy import select

from backend.assistant.understanding import Question
from backend.assistant.vocabulary import COMMON, canonical_subject
from backend.auth import User
from backend.classes import Enrollment, SchoolClass, Term, visible_classes
from backend.core.extensions import db
from backend.grades import Assessment
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


@dataclass(frozen=True)
class Words:
    """A question's words as name evidence: `named` ones (capitalised, in a name's place) may match
    with a slip; `plain` lower-case ones only exactly (so "turned" is not Turner); `numbers` are
    admission numbers in any spelling."""

    named: set[str]
    plain: set[str]
    numbers: set[tuple[str, int]]


def _part_score(part: set[str], words: Words) -> tuple[int, int]:
    both = words.named | words.plain
    if part & both:
        return EXACT, 0
    if part & {w[:-1] for w in both if w.endswith("s") and len(w) > 3}:
        return POSSESSIVE, 0  # "Zoes admission number": a possessive without its apostrophe
    if any(_near(word, name) for word in words.named for name in part):
        return 0, NEAR
    return 0, 0


def _score(ref: StudentRef, words: Words) -> tuple[int, bool]:
    """How well a student answers to the question's words, and whether only by a slip."""
    if (number := _compact(ref.admission_number)) and number in words.numbers:
        return NUMBER, False
    exact = near = 0
    for part in (_name_parts(ref.first_name), _name_parts(ref.last_name)):
        e, n = _part_score(part, words)
        exact, near = exact + e, near + n
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


# A lower-case word after these is an ordinary noun ("the hill walk"), not a name.
NOUN_BEFORE = re.compile(r"\b(the|a|an|this|that|our|your|on|in|at|to|of)\s+$")


def _admission(word: str) -> tuple[str, int] | None:
    """An admission number: letters and digits ("d7", "D-007"), or digits alone when they cannot be
    a count ("0025", "10234"; not the 15 of "the last 15 days")."""
    if not any(c.isdigit() for c in word) or (number := _compact(word)) is None:
        return None
    digits = re.sub(r"\D", "", word)
    return number if number[0] or digits.startswith("0") or len(digits) >= 4 else None


def _plain(question: Question) -> set[str]:
    lowered = question.text.lower()
    plain = set()
    for match in re.finditer(r"[^\W\d_][\w'\-]*", lowered):
        word = match[0].removesuffix("'s")
        if word not in COMMON and len(word) > 1 and not NOUN_BEFORE.search(lowered[: match.start()]):
            plain |= {word, *word.split("-")}
    return plain


def _words(question: Question) -> Words:
    named = {w.lower() for w in question.name_words if not any(c.isdigit() for c in w)}
    named |= {part for w in named for part in w.split("-")}
    tokens = {*question.name_words, *question.words}
    numbers = {n for w in tokens if (n := _admission(w))}
    return Words(named, _plain(question) - named, numbers)


def _unmatched(question: Question, found: list[StudentRef], prefixes: set[str]) -> list[str]:
    """Name words no found student answers to; admission-like ones only in the school's format."""
    left = []
    for word in question.name_words:
        number = _admission(word)
        if any(c.isdigit() for c in word) and (number is None or number[0] not in prefixes):
            continue  # "INV-0007" or "Year 5": not an admission number
        one = Words({word.lower()}, set(), {number} if number else set())
        if not any(_score(ref, one)[0] for ref in found):
            left.append(word)
    return left


def _pairs(text: str) -> list[tuple[str, str]]:
    """Adjacent words that could be a first name and a surname (not "the hill walk")."""
    lowered = text.lower().replace("'s ", " ")
    words = list(re.finditer(r"[^\W\d_][\w\-]*", lowered))
    return [
        (a[0], b[0])
        for a, b in itertools.pairwise(words)
        if not {a[0], b[0]} & COMMON and not NOUN_BEFORE.search(lowered[: a.start()])
    ]


def _other_full_name(question: Question, partial: list[StudentRef]) -> str | None:
    """Two name words asked together that no one student has both of ("Sara Jones" when the caller
    teaches a Sara Moore, "Ema Fox" when they teach Ema Khan and Noah Fox): someone else."""
    named = {w.lower() for w in question.name_words}
    for first, second in _pairs(question.text):
        if not {first, second} <= named:
            continue  # "did Ada enjoy ...": only two words both written as names make a full name
        one = {ref for ref in partial if _score(ref, Words({first}, set(), set()))[0]}
        other = {ref for ref in partial if _score(ref, Words({second}, set(), set()))[0]}
        if (one or other) and not one & other:
            return f"{first.title()} {second.title()}"
    return None


def _best(
    candidates: list[StudentRef], words: Words
) -> tuple[list[tuple[StudentRef, bool]], list[StudentRef], int]:
    """The students that answer best to the words (with whether only by a slip), every student
    that answers at all, and the best score."""
    scored = [(ref, *_score(ref, words)) for ref in candidates]
    top = max((score for _ref, score, _typo in scored), default=0)
    best = [(ref, typo) for ref, score, typo in scored if score == top and top > 0]
    return best, [ref for ref, score, _typo in scored if score], top


def _title_words(auth: AuthContext) -> set[str]:
    """Words of the caller's class names and assessment titles ("Fractions quiz"): capitalised in a
    question, they name a test or a class, not a student."""
    if auth.role == Role.PARENT:
        children = auth.scoped(Student).where(visible_students(auth)).with_only_columns(Student.id)
        classes = select(Enrollment.class_id).where(
            auth.owns(Enrollment), Enrollment.student_id.in_(children)
        )
    else:
        classes = visible_classes(auth).with_only_columns(SchoolClass.id)
    rows = db.session.execute(
        select(SchoolClass.name, Assessment.title)
        .outerjoin(Assessment, Assessment.class_id == SchoolClass.id)
        .where(auth.owns(SchoolClass), SchoolClass.id.in_(classes))
        .limit(2000)
    )
    return {word for row in rows for text in row if text for word in re.findall(r"\w+", text.lower())}


def _not_found(
    auth: AuthContext, question: Question, found: list[StudentRef], candidates: list[StudentRef]
) -> list[str]:
    """Name words no found student answers to, but not the words of a test or a class."""
    prefixes = {p[0] for ref in candidates if (p := _compact(ref.admission_number))}
    unmatched = _unmatched(question, found, prefixes)
    if not unmatched:
        return []
    titles = _title_words(auth)
    return [w for w in unmatched if w.lower() not in titles]


def resolve(auth: AuthContext, question: Question, student_id: uuid.UUID | None) -> Named:
    """The students the question is about. An explicit `student_id` the caller may not see is a 404."""
    if student_id is not None:
        return Named([StudentRef.of(visible_student(auth, student_id))], [])
    candidates = _candidates(auth)
    best, partial, top = _best(candidates, _words(question))
    found = [ref for ref, _typo in best]
    guessed = [ref for ref, typo in best if typo]
    if top < NUMBER and (full := _other_full_name(question, partial)):
        return Named([], [full])
    if len(best) > MAX_STUDENTS or len(guessed) > 1:
        return Named([], [], ambiguous=found)  # a name or a slip that fits several: ask which
    unmatched = _not_found(auth, question, found, candidates)
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
    """The staff member's current classes (a teacher's own, every class for an admin)."""
    today = auth.today()
    rows = db.session.execute(
        visible_classes(auth)
        .with_only_columns(SchoolClass.id, SchoolClass.name, SchoolClass.subject, User.full_name, Term.name)
        .join(Term, Term.id == SchoolClass.term_id)
        .outerjoin(User, User.id == SchoolClass.teacher_id)
        .where(Term.ends_on >= today, Term.starts_on <= today)
        .order_by(SchoolClass.name)
        .limit(200)
    )
    return [ClassRef(*row) for row in rows]


def classes_named(auth: AuthContext, question: Question) -> tuple[list[ClassRef], list[ClassRef]]:
    """The caller's current classes the question names (by name or subject), and all of them."""
    mine = _class_rows(auth)
    lowered = " ".join(question.words)
    year = re.search(r"\b(?:year|yr|y|grade)\s?(\d{1,2})\b", lowered)
    named = [
        c
        for c in mine
        if re.search(rf"\b{re.escape(c.name.lower())}\b", lowered)
        or (c.teacher and re.search(rf"\b{re.escape(c.teacher.lower())}\b", lowered))
        or (
            canonical_subject(c.subject) in question.subjects
            and (year is None or year[1] in re.findall(r"\d+", c.name))
        )
    ]
    return named, mine
