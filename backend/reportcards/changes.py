"""What changed between two published versions of a report, in words a parent reads. A report
is published again only when something here changed: its numbers, grades, comments, attendance or
the student's details. Labels (a class renamed, another teacher, a scale renamed, who saved a
comment) alone make no new version and no email."""

from __future__ import annotations

from typing import Any

from backend.reportcards.snapshot import percent_text, rate_text

Content = dict[str, Any]
DASH, TO = "\u2014", "\u2192"
COUNTS = (
    ("graded", "graded"),
    ("missing", "missing"),
    ("exempt", "exempt"),
    ("not_graded", "not graded yet"),
)
DETAILS = ("first_name", "last_name", "admission_number", "grade_level")


def _rate(before: Content, after: Content) -> str:
    return f"{rate_text(before['rate'])} {TO} {rate_text(after['rate'])}"


def _attendance(where: str, before: Content, after: Content) -> list[str]:
    if before["rate"] != after["rate"]:
        return [f"{where}: attendance {_rate(before, after)}"]
    if before != after:
        return [f"{where}: attendance marks {before['total']} {TO} {after['total']}"]
    return []


def _class_changes(name: str, before: Content, after: Content) -> list[str]:
    lines = []
    if before["average"] != after["average"]:
        lines.append(
            f"{name}: average {percent_text(before['average'])} {TO} {percent_text(after['average'])}"
        )
    if before["grade"] != after["grade"]:
        lines.append(f"{name}: grade {before['grade'] or DASH} {TO} {after['grade'] or DASH}")
    lines += [
        f"{name}: {label} {before[key]} {TO} {after[key]}"
        for key, label in COUNTS
        if before[key] != after[key]
    ]
    if before["comment"] != after["comment"]:
        lines.append(f"{name}: the teacher's comment changed")
    return lines + _attendance(name, before["attendance"], after["attendance"])


def _classes(before: Content, after: Content) -> list[str]:
    old = {item["class_id"]: item for item in before["classes"]}
    new = {item["class_id"]: item for item in after["classes"]}
    lines = [f"{new[key]['class_name']}: added" for key in new if key not in old]
    lines += [f"{old[key]['class_name']}: removed" for key in old if key not in new]
    for key in new.keys() & old.keys():
        lines += _class_changes(new[key]["class_name"], old[key], new[key])
    return sorted(lines)


def describe(before: Content, after: Content) -> list[str]:
    """One line per change that matters to the reader; empty when only labels changed."""
    lines = _classes(before, after) + _attendance("This term", before["attendance"], after["attendance"])
    if before["overall_comment"] != after["overall_comment"]:
        lines.append("The overall comment changed")
    if any(before[key] != after[key] for key in DETAILS):
        lines.append("The student's details changed")
    return lines
