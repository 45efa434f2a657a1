"""What an import will do, row by row, before it does anything: the shared part of every kind.

A kind turns each row into a validated record (pydantic), finds what already exists by its natural
key (one query), and says per row: create, update (with the changes) or unchanged; any problem is
a `CellError` with the row and column. A cell of the wrong type says the value it got (`shown`:
shortened, invisible characters by their code) and the form it expects (`cell_problem`), so the
office can find and fix it: `row 3, date_of_birth: "31/12/2012" is not a date (expected
YYYY-MM-DD, e.g. 2012-12-31)`. Only a plan without errors is applied, all in one transaction.
"""

from __future__ import annotations

import re
import unicodedata
import uuid
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import date
from typing import Any, TypeVar

from pydantic import BaseModel, ConfigDict, ValidationError
from pydantic_core import ErrorDetails

from backend import audit
from backend.core.csvfile import CellError
from backend.core.extensions import db
from backend.core.models import Base
from backend.core.validation import trim
from backend.tenancy import AuthContext

R = TypeVar("R", bound=BaseModel)
TRUE = frozenset({"true", "yes", "y", "1"})
FALSE = frozenset({"false", "no", "n", "0", ""})
SHOWN_LENGTH = 40  # characters of a bad value quoted back in a message
INVISIBLE = frozenset({"Cc", "Cf", "Zl", "Zp", "Co", "Cs", "Cn"})  # Unicode categories shown by code
WHOLE_NUMBER = "a whole number (expected digits only, e.g. 7)"
# What a cell of each pydantic error type should have been ("... is not <form>").
FORMS = {
    "date_format": "a date (expected YYYY-MM-DD, e.g. 2012-12-31)",
    "date_parsing": "a date (expected YYYY-MM-DD, e.g. 2012-12-31)",
    "int_parsing": WHOLE_NUMBER,
    "int_from_float": WHOLE_NUMBER,
    "int_type": WHOLE_NUMBER,
    "bool_parsing": "yes or no (expected true/false, yes/no, y/n, 1/0, or empty for no)",
    "bool_type": "yes or no (expected true/false, yes/no, y/n, 1/0, or empty for no)",
}
EMAIL_FORM = "an email address (expected name@domain, e.g. parent@example.org)"


class RowModel(BaseModel):
    """A CSV row's values: text from a spreadsheet (numbers and dates as text), nothing extra."""

    model_config = ConfigDict(extra="forbid")  # cells arrive trimmed (core/csvfile.py)


def flag(value: Any) -> Any:
    """Spreadsheet booleans: true/false, yes/no, y/n, 1/0, empty = false."""
    if isinstance(value, str) and trim(value).lower() in TRUE | FALSE:
        return trim(value).lower() in TRUE
    return value


@dataclass
class Step:
    row: int
    action: str  # create, update, unchanged
    record: Any
    target: Any = None  # the existing row, for an update or unchanged
    changes: dict[str, Any] = field(default_factory=dict)


@dataclass
class Plan:
    steps: list[Step] = field(default_factory=list)
    errors: list[CellError] = field(default_factory=list)

    def count(self, action: str) -> int:
        return sum(step.action == action for step in self.steps)


def shown(value: Any) -> str:
    """A cell's value quoted back: its first SHOWN_LENGTH characters (then "…"), and a character
    that would not show or would garble the line (control, format, line separators) as [U+XXXX]."""
    text = str(value)
    cut = "".join(
        f"[U+{ord(c):04X}]" if unicodedata.category(c) in INVISIBLE else c for c in text[:SHOWN_LENGTH]
    )
    return f'"{cut}…"' if len(text) > SHOWN_LENGTH else f'"{cut}"'


def cell_problem(problem: ErrorDetails) -> str:
    """What is wrong with a cell, from pydantic's error: the value given and the form expected."""
    kind, value = problem["type"], problem.get("input")
    if kind == "missing":
        return "Empty, but this column is required."
    if not problem["loc"] or isinstance(value, dict):
        return problem["msg"]  # about the row, not one cell
    if kind in FORMS:
        return f"{shown(value)} is not {FORMS[kind]}"
    if kind == "value_error" and "email address" in problem["msg"]:
        return f"{shown(value)} is not {EMAIL_FORM}"
    context = problem.get("ctx", {})
    if kind in ("enum", "literal_error"):
        choices = ", ".join(re.findall(r"'([^']*)'", str(context.get("expected", ""))))
        column = str(problem["loc"][0]).replace("_", " ")
        return f"{shown(value)} is not a {column} (expected one of: {choices})"
    if kind == "string_too_long":
        return f"{shown(value)} is too long (expected at most {context.get('max_length')} characters)"
    return f"{shown(value)}: {problem['msg']}"


def parse(
    model: type[R], rows: list[tuple[int, dict[str, str]]], errors: list[CellError]
) -> list[tuple[int, R]]:
    """Each row as `model`; empty cells are absent values; failures become errors."""
    parsed: list[tuple[int, R]] = []
    for number, cells in rows:
        try:
            parsed.append((number, model.model_validate({k: v for k, v in cells.items() if v != ""})))
        except ValidationError as error:
            for problem in error.errors(include_url=False):
                column = str(problem["loc"][0]) if problem["loc"] else None
                errors.append(CellError(number, column, cell_problem(problem)))
    return parsed


def unique_keys(
    parsed: list[tuple[int, R]], key: Callable[[R], Any], column: str, errors: list[CellError]
) -> list[tuple[int, R]]:
    """Rows whose natural key no earlier row of the file has; a repeat is an error on its row."""
    first: dict[Any, int] = {}
    kept = []
    for number, record in parsed:
        seen = first.setdefault(key(record), number)
        if seen != number:
            errors.append(CellError(number, column, f"The same record as row {seen}."))
        else:
            kept.append((number, record))
    return kept


def changes(target: Any, values: dict[str, Any]) -> dict[str, Any]:
    """The fields of `values` that differ from `target`'s, as audit-style before/after pairs."""
    return {
        name: {"before": getattr(target, name), "after": value}
        for name, value in values.items()
        if getattr(target, name) != value
    }


def step_for(number: int, record: Any, target: Any, values: dict[str, Any]) -> Step:
    if target is None:
        return Step(number, "create", record)
    diff = changes(target, values)
    return Step(number, "update" if diff else "unchanged", record, target, diff)


def past(value: date | None, today: date) -> bool:
    return value is not None and value > today


def update_from(step: Step) -> None:
    """Set the step's changed fields on its existing row."""
    for name, change in step.changes.items():
        setattr(step.target, name, change["after"])


def apply_plan(auth: AuthContext, plan: Plan, model: type[Base], resource_type: str) -> None:
    """Create and update a kind's rows as planned, an audit event each (`<type>.create`/`.update`);
    the caller commits."""
    for step in plan.steps:
        if step.action == "create":
            row = model(school_id=auth.school_id, id=uuid.uuid4(), **step.record)
            db.session.add(row)
            audit.record(
                auth,
                f"{resource_type}.create",
                resource=row,
                resource_type=resource_type,
                changes=step.record,
            )
        elif step.action == "update":
            update_from(step)
            audit.record(
                auth,
                f"{resource_type}.update",
                resource=step.target,
                resource_type=resource_type,
                changes=step.changes,
            )
