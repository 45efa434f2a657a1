"""The four kinds of import, one module each: students, classes, enrollments and guardians. Each
matches existing records by a natural key (a student's admission number; a class's term and name,
its "code"; an enrollment's student and class; a guardian's student and email), so importing the
same file again changes nothing. `KINDS` names them for the importer, the exports (which write the
same columns) and the CLI; what they share is in common.py."""

from __future__ import annotations

from backend.spreadsheets.kinds.classes import CLASSES
from backend.spreadsheets.kinds.common import Kind
from backend.spreadsheets.kinds.enrollments import ENROLLMENTS
from backend.spreadsheets.kinds.guardians import GUARDIANS
from backend.spreadsheets.kinds.students import STUDENTS

KINDS: dict[str, Kind] = {kind.name: kind for kind in (STUDENTS, CLASSES, ENROLLMENTS, GUARDIANS)}

__all__ = ["KINDS", "Kind"]
