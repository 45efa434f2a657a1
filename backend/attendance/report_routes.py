"""/api/reports/attendance/...: registers not taken, runs of absence, rates; each also as CSV."""

from __future__ import annotations

from collections.abc import Iterable

from flask import Response

from backend.attendance import bp, reports
from backend.attendance.schemas import (
    AbsenceRunOut,
    AbsencesQuery,
    MissingRegisterOut,
    RateOut,
    RatesQuery,
    RegistersQuery,
)
from backend.core import csvfile
from backend.core.api import api
from backend.core.pagination import Items
from backend.core.validation import OutputModel
from backend.tenancy import current_auth, requires


def _csv(
    name: str, rows: Iterable[OutputModel], kind: type[OutputModel], leave_out: tuple[str, ...] = ()
) -> Response:
    """One column per field of `kind`, in the order the model declares them (the JSON's order),
    but those in `leave_out` (a column that is always empty in this report)."""
    columns = [column for column in kind.model_fields if column not in leave_out]
    return csvfile.response(name, columns, ([getattr(row, column) for column in columns] for row in rows))


def _registers(query: RegistersQuery) -> list[MissingRegisterOut]:
    auth = current_auth()
    return reports.registers_not_taken(auth, query.date or auth.today())


def _rates(query: RatesQuery) -> list[RateOut]:
    return reports.attendance_rates(current_auth(), query.from_, query.to, query.by)


@bp.get("/reports/attendance/registers")
@requires("reports.read")
@api(query=RegistersQuery, response=Items[MissingRegisterOut])
def registers_not_taken(query: RegistersQuery) -> Items[MissingRegisterOut]:
    """Classes whose register has not been taken on the day (today by default), by teacher."""
    return Items(_registers(query))


@bp.get("/reports/attendance/registers.csv")
@requires("reports.read")
@api(query=RegistersQuery, media_type="text/csv")
def registers_not_taken_csv(query: RegistersQuery) -> Response:
    """The same, as CSV."""
    return _csv("registers-not-taken", _registers(query), MissingRegisterOut)


@bp.get("/reports/attendance/absences")
@requires("reports.read")
@api(query=AbsencesQuery, response=Items[AbsenceRunOut])
def absence_runs(query: AbsencesQuery) -> Items[AbsenceRunOut]:
    """Students absent on each of the last `days` or more school days, longest run first."""
    return Items(reports.absence_runs(current_auth(), query.days))


@bp.get("/reports/attendance/absences.csv")
@requires("reports.read")
@api(query=AbsencesQuery, media_type="text/csv")
def absence_runs_csv(query: AbsencesQuery) -> Response:
    """The same, as CSV."""
    return _csv("absences", reports.absence_runs(current_auth(), query.days), AbsenceRunOut)


@bp.get("/reports/attendance/rates")
@requires("reports.read")
@api(query=RatesQuery, response=Items[RateOut], problems=(422,))
def attendance_rates(query: RatesQuery) -> Items[RateOut]:
    """Counts per status and the attendance rate per class or per student over a range."""
    return Items(_rates(query))


@bp.get("/reports/attendance/rates.csv")
@requires("reports.read")
@api(query=RatesQuery, media_type="text/csv", problems=(422,))
def attendance_rates_csv(query: RatesQuery) -> Response:
    """The same, as CSV."""
    by_class = ("admission_number",) if query.by == "class" else ()
    return _csv(f"attendance-rates-by-{query.by}", _rates(query), RateOut, by_class)
