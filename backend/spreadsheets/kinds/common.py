"""What the import kinds share: the `Kind` record each one exports, the cell types of their rows,
the rules more than one kind checks (a grade level's range, a student found by admission number),
and the lookups of existing records by natural key, one query each."""

from __future__ import annotations

import uuid
from collections.abc import Callable
from dataclasses import dataclass
from typing import Annotated

from pydantic import StringConstraints

from backend.classes import SchoolClass, Term
from backend.core.extensions import db
from backend.spreadsheets.plans import Plan, shown
from backend.students import Student
from backend.tenancy import AuthContext

Text = Annotated[str, StringConstraints(min_length=1, max_length=100)]
AdmissionNumber = Annotated[str, StringConstraints(min_length=1, max_length=32)]
Rows = list[tuple[int, dict[str, str]]]
GRADE_LEVELS = (0, 20)  # the lowest and the highest
NO_SUCH_STUDENT = "No student with this admission number."


@dataclass(frozen=True)
class Kind:
    name: str
    columns: tuple[str, ...]
    required: tuple[str, ...]
    plan: Callable[[AuthContext, Rows], Plan]
    apply: Callable[[AuthContext, Plan, bool], None]


def is_grade_level(value: int) -> bool:
    return GRADE_LEVELS[0] <= value <= GRADE_LEVELS[1]


def grade_level_problem(value: int) -> str:
    low, high = GRADE_LEVELS
    return f"{shown(value)} is not a grade level (expected a whole number from {low} to {high})"


def terms_named(auth: AuthContext, names: set[str]) -> dict[str, Term]:
    """The school's terms with these names, by name."""
    return {t.name: t for t in db.session.scalars(auth.scoped(Term).where(Term.name.in_(names)))}


def classes_in(auth: AuthContext, terms: dict[str, Term]) -> dict[tuple[uuid.UUID, str], SchoolClass]:
    """The terms' classes by their natural key (term, name)."""
    statement = auth.scoped(SchoolClass).where(SchoolClass.term_id.in_([t.id for t in terms.values()]))
    return {(c.term_id, c.name): c for c in db.session.scalars(statement)}


def students_numbered(auth: AuthContext, numbers: set[str]) -> dict[str, Student]:
    """The school's students with these admission numbers, by number."""
    statement = auth.scoped(Student).where(Student.admission_number.in_(numbers))
    return {s.admission_number: s for s in db.session.scalars(statement)}
