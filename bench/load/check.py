"""After the run, against the database: what the clients were told is what is stored.

Each write has an outcome as its client saw it: `ack` (a 2xx), `refused` (a definite error: the
server answered and did not act), or `ambiguous` (a time-out or a lost connection on some
attempt, or no outcome at all because Locust stopped the user mid-request). Then:
- every acknowledged payment exists exactly once, with the id, invoice and amount it was sent
  with; an ambiguous one at most once; a refused one not at all; each load invoice's payments
  add up to what the clients paid on it and never past its total;
- every acknowledged attendance mark and grade is what is stored, unless a later write to the
  same place was ambiguous (each class and grade book has one writer, so the order is known);
- invoices and assessments (created with an Idempotency-Key, retried with it) exist once if
  acknowledged, at most once if ambiguous, never if refused;
- nothing from the load is stored that no client sent;
- every audit chain verifies.
A refused write that is stored anyway while the database path was being cut is reported as
`indeterminate`: a COMMIT whose answer the proxy dropped, which the server could not know.
"""

from __future__ import annotations

import re
from collections import defaultdict
from decimal import Decimal
from pathlib import Path
from typing import Any

from sqlalchemy import create_engine, text
from sqlalchemy.engine import Connection

from bench.load.chaos import Fault
from bench.load.report import read_lines

LOAD_NUMBER = re.compile(r"L[0-9a-f]{20}")


class Findings:
    def __init__(self) -> None:
        self.checked: dict[str, int] = defaultdict(int)
        self.problems: list[str] = []
        self.indeterminate: list[str] = []
        self.ambiguous_stored: dict[str, int] = defaultdict(int)

    def as_json(self) -> dict[str, Any]:
        return {
            "passed": not self.problems,
            "checked": dict(self.checked),
            "problems": self.problems[:200],
            "problem_count": len(self.problems),
            "indeterminate": self.indeterminate[:50],
            "ambiguous_stored": dict(self.ambiguous_stored),
        }


def load_writes(path: Path) -> dict[str, list[dict[str, Any]]]:
    """Writes by op, each its intent with `outcome` (ambiguous when none was logged) and result."""
    writes: dict[str, dict[str, Any]] = {}
    for line in read_lines(path):
        if line["ev"] == "intent":
            writes[line["w"]] = {**line, "outcome": "ambiguous", "end": None}
        elif line["w"] in writes:
            writes[line["w"]].update({k: v for k, v in line.items() if k not in ("ev", "t")}, end=line["t"])
    by_op: dict[str, list[dict[str, Any]]] = defaultdict(list)
    for write in sorted(writes.values(), key=lambda w: w["t"]):
        by_op[write["op"]].append(write)
    return by_op


def during_cut(write: dict[str, Any], faults: list[Fault], grace: float) -> bool:
    end = write["end"] or write["t"]
    return any(f.name == "pg" and write["t"] <= f.end + grace and end >= f.start for f in faults)


def _refused_but_stored(findings: Findings, what: str, write: dict[str, Any], cut: bool) -> None:
    message = f"{what}: refused ({write.get('kinds')}) but stored"
    (findings.indeterminate if cut else findings.problems).append(message)


def check_created(
    findings: Findings,
    op: str,
    writes: list[dict[str, Any]],
    stored: dict[str, list[str]],
    ids: tuple[str, str],
) -> None:
    """Creates, matched on a name the client chose (`stored`: name -> ids of its rows)."""
    name_field, id_field = ids
    for write in writes:
        findings.checked[op] += 1
        rows, name = stored.get(write[name_field], []), write[name_field]
        if len(rows) > 1:
            findings.problems.append(f"{op} {name}: stored {len(rows)} times ({write['outcome']})")
        elif write["outcome"] == "ack" and rows != [write[id_field]]:
            findings.problems.append(f"{op} {name}: acknowledged as {write[id_field]}, stored as {rows}")
        elif write["outcome"] == "refused" and rows:
            _refused_but_stored(findings, f"{op} {name}", write, write.get("cut", False))
        elif write["outcome"] == "ambiguous" and rows:
            findings.ambiguous_stored[op] += 1
    sent = {w[name_field] for w in writes}
    findings.problems += [f"{op} {name}: stored, never sent" for name in stored if name not in sent]


def check_payments(
    findings: Findings, connection: Connection, writes: dict[str, list[dict[str, Any]]]
) -> None:
    invoices = {w["invoice_id"] for w in writes["invoice"] if w["outcome"] == "ack"}
    rows = connection.execute(
        text(
            "SELECT p.id, p.invoice_id, p.amount_cents, p.reference, r.id IS NOT NULL AS reversed"
            " FROM payments p LEFT JOIN payment_reversals r ON r.payment_id = p.id"
        )
    ).all()
    by_key: dict[str, list[Any]] = defaultdict(list)
    for row in rows:
        if str(row.invoice_id) in invoices:
            by_key[row.reference].append(row)
    stored = {key: [str(row.id) for row in found] for key, found in by_key.items()}
    check_created(findings, "payment", writes["payment"], stored, ("key", "payment_id"))
    paid: dict[str, int] = defaultdict(int)
    for write in writes["payment"]:
        for row in by_key.get(write["key"], [])[:1]:
            if (str(row.invoice_id), row.amount_cents) != (write["invoice_id"], write["amount_cents"]):
                findings.problems.append(
                    f"payment {write['key']}: stored as {row.invoice_id}/{row.amount_cents}"
                )
            paid[write["invoice_id"]] += row.amount_cents
    check_balances(findings, connection, writes["invoice"], rows, paid)


def check_balances(
    findings: Findings,
    connection: Connection,
    invoices: list[dict[str, Any]],
    payments: list[Any],
    paid: dict[str, int],
) -> None:
    """Each acknowledged invoice: its stored total is what was sent; its payments (all of them in
    the database) add up to what the clients' payments add up to, and never past the total."""
    totals = {
        str(invoice): total
        for invoice, total in connection.execute(
            text("SELECT invoice_id, SUM(amount_cents) FROM invoice_lines GROUP BY invoice_id")
        ).all()
    }
    in_database: dict[str, int] = defaultdict(int)
    for row in payments:
        if not row.reversed:
            in_database[str(row.invoice_id)] += row.amount_cents
    for write in (w for w in invoices if w["outcome"] == "ack"):
        invoice = write["invoice_id"]
        findings.checked["balance"] += 1
        total = totals.get(invoice)
        if total != write["total_cents"]:
            findings.problems.append(f"invoice {invoice}: total {total}, sent {write['total_cents']}")
        if in_database[invoice] != paid[invoice] or in_database[invoice] > (total or 0):
            findings.problems.append(
                f"invoice {invoice}: payments stored {in_database[invoice]},"
                f" clients paid {paid[invoice]}, total {total}"
            )


def check_issues(findings: Findings, connection: Connection, writes: list[dict[str, Any]]) -> None:
    states = {str(i): s for i, s in connection.execute(text("SELECT id, state FROM invoices")).all()}
    for write in writes:
        findings.checked["issue"] += 1
        state = states.get(write["invoice_id"])
        if write["outcome"] == "ack" and state != "issued":
            findings.problems.append(f"issue {write['invoice_id']}: acknowledged, state {state}")
        elif write["outcome"] == "refused" and state == "issued":
            _refused_but_stored(findings, f"issue {write['invoice_id']}", write, write.get("cut", False))


def expected_values(
    writes: list[dict[str, Any]], place: str, values: str
) -> dict[tuple[str, str], dict[str, Any]]:
    """Per (place, student): the values the row may hold after this sequence of writes, and the
    values of refused writes (stored only if indeterminate)."""
    allowed: dict[tuple[str, str], dict[str, Any]] = {}
    for write in writes:  # in the order they were sent; one writer per place
        for student, value in write[values].items():
            slot = allowed.setdefault((write[place], student), {"may": {None}, "refused": set()})
            if write["outcome"] == "ack":
                slot["may"] = {value}
            elif write["outcome"] == "ambiguous":
                slot["may"].add(value)
            elif write.get("cut"):
                slot["refused"].add(value)
    return allowed


def check_slots(
    findings: Findings,
    op: str,
    allowed: dict[tuple[str, str], dict[str, Any]],
    stored: dict[tuple[str, str], Any],
) -> None:
    for slot, value in stored.items():
        if slot not in allowed:
            findings.problems.append(f"{op} {slot}: stored {value}, never sent")
    for slot, expected in allowed.items():
        findings.checked[op] += 1
        value = stored.get(slot)
        if value in expected["may"]:
            continue
        message = f"{op} {slot}: stored {value}, expected one of {sorted(map(str, expected['may']))}"
        (findings.indeterminate if value in expected["refused"] else findings.problems).append(message)


def check_attendance(findings: Findings, connection: Connection, writes: list[dict[str, Any]]) -> None:
    for write in writes:
        write["place"] = f"{write['class_id']}@{write['date']}"
    classes = {w["class_id"] for w in writes}
    rows = connection.execute(
        text("SELECT class_id, on_date, student_id, status FROM attendance_records")
    ).all()
    stored = {
        (f"{row.class_id}@{row.on_date.isoformat()}", str(row.student_id)): row.status
        for row in rows
        if str(row.class_id) in classes
    }
    check_slots(findings, "attendance", expected_values(writes, "place", "marks"), stored)


def check_grades(findings: Findings, connection: Connection, writes: dict[str, list[dict[str, Any]]]) -> None:
    assessments = {w["assessment_id"] for w in writes["assessment"] if w["outcome"] == "ack"}
    rows = connection.execute(text("SELECT assessment_id, student_id, score FROM grades")).all()
    stored = {
        (str(row.assessment_id), str(row.student_id)): int(row.score) if row.score is not None else None
        for row in rows
        if str(row.assessment_id) in assessments
    }
    for row in rows:  # scores are whole numbers: a fraction would be a stored value nobody sent
        if (
            str(row.assessment_id) in assessments
            and row.score is not None
            and row.score != Decimal(int(row.score))
        ):
            findings.problems.append(f"grade {row.assessment_id}/{row.student_id}: score {row.score}")
    check_slots(findings, "grade", expected_values(writes["grades"], "assessment_id", "scores"), stored)


def check_creates(
    findings: Findings, connection: Connection, writes: dict[str, list[dict[str, Any]]]
) -> None:
    invoices: dict[str, list[str]] = defaultdict(list)
    for invoice_id, number in connection.execute(text("SELECT id, number FROM invoices")).all():
        if LOAD_NUMBER.fullmatch(number):
            invoices[number].append(str(invoice_id))
    check_created(findings, "invoice", writes["invoice"], invoices, ("number", "invoice_id"))
    assessments: dict[str, list[str]] = defaultdict(list)
    for assessment_id, title in connection.execute(text("SELECT id, title FROM assessments")).all():
        if title.startswith("load "):
            assessments[title].append(str(assessment_id))
    check_created(findings, "assessment", writes["assessment"], assessments, ("title", "assessment_id"))


def check_audit(findings: Findings, database_url: str, settings: dict[str, str]) -> None:
    from backend import audit, create_app
    from backend.config import settings_from
    from backend.core.db import dispose_pools
    from backend.tenancy import platform_access

    app = create_app(
        settings_from(APP_ENV="testing", DATABASE_URL=database_url, LOG_LEVEL="WARNING", **settings)
    )
    with app.app_context(), platform_access("bench check"):
        for chain in audit.chain_ids():
            checked, broken = audit.verify_chain(chain)
            findings.checked["audit_events"] += checked
            if broken is not None:
                findings.problems.append(f"audit chain {chain}: broken at seq {broken.seq}: {broken.reason}")
    dispose_pools(app)


def check(
    database_url: str, writes_path: Path, faults: list[Fault], grace: float, settings: dict[str, str]
) -> dict[str, Any]:
    """The findings; `settings` (the server's encryption key) go to the app that verifies the audit."""
    findings = Findings()
    writes = load_writes(writes_path)
    for write in (w for group in writes.values() for w in group):
        write["cut"] = during_cut(write, faults, grace)
    engine = create_engine(database_url)
    try:
        with engine.connect() as connection:
            check_creates(findings, connection, writes)
            check_payments(findings, connection, writes)
            check_issues(findings, connection, writes["issue"])
            check_attendance(findings, connection, writes["attendance"])
            check_grades(findings, connection, writes)
    finally:
        engine.dispose()
    check_audit(findings, database_url, settings)
    return findings.as_json()
