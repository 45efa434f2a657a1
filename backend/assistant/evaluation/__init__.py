"""The assistant's evaluation set: questions as parents, teachers and admins ask them, each with the
facts a good answer must contain and the facts it must not, judged on the demo school.

A case names who asks (`parent7`: the parent of student D-007; `teacher1`, `teacher2`, `admin`),
the domain the answer should land in (alternatives separated by "|"), what kind of answer is right
(`answered`, or `clarify`, `not_found`, `refused`, `overview`), and facts written with placeholders
that `backend/demo/assistant_eval.py` fills from the demo school's database (`{balance}`,
`{student_full}`, ...; listed there), never from the assistant. `parents`, `teachers` and `admins`
are the first set; `blind_parents`/`blind_staff`, `blind_third` and `blind_fourth` were written
independently by testers who had not read the rules, scored blind, and kept (their docstrings give
the blind score).

An answer passes when its domain and kind are the expected ones, it contains every required fact
(any of the spellings separated by " | ", case-insensitive) and none of the forbidden ones. A
failed answer the assistant gave as `answered` is a *confident wrong* answer: the worst outcome,
worse than a clarifying question or "I can't find ...".
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

Kind = str  # answered | clarify | not_found | refused | overview
# The next weekday is a school day or in the knowledge base's winter holiday, by the run's date:
# either answer names the day and says which ("... is a school day" / "No school on ...").
WEEKDAY = "is a school day | no school on"
# Spellings and forbidden facts the sets share.
CANT = "can't find | cannot find | can\u2019t find"
NO_SCHOOL = "no school"
# A parent sees only published grades of their own child.
P_GRADES = ("test 4", "{other_subject} test", "{other_full}")
# Teachers see allergies and alerts, never fees or the rest of a health record.
T_HEALTH = ("Asthma", "Salbutamol")
NO_MISSING = "no missing | none missing | not missing | no grades missing | every student | all students"


@dataclass(frozen=True)
class Case:
    who: str
    domain: str
    question: str
    must: tuple[str, ...] = ()
    must_not: tuple[str, ...] = ()
    kind: Kind = "answered"

    @property
    def role(self) -> str:
        return self.who.rstrip("0123456789")


@dataclass
class Result:
    case: Case
    question: str
    mode: str
    domain: str
    kind: str
    missing: list[str] = field(default_factory=list)
    leaked: list[str] = field(default_factory=list)

    @property
    def passed(self) -> bool:
        return (
            not self.missing
            and not self.leaked
            and self.domain in self.case.domain.split("|")
            and self.kind == self.case.kind
        )

    @property
    def confident_wrong(self) -> bool:
        return not self.passed and self.kind == "answered"

    @property
    def leak(self) -> bool:
        return bool(self.leaked)


def _spellings(fact: str, values: dict[str, str]) -> list[str]:
    return [s.strip().format(**values).lower() for s in fact.split(" | ")]


def judge(case: Case, values: dict[str, str], body: dict[str, Any]) -> Result:
    answer = str(body.get("answer", "")).lower()
    shown = " ".join([answer, *(str(f).lower() for f in body.get("facts", []))])  # all the body serves
    result = Result(
        case,
        case.question.format(**values),
        str(body.get("mode", "?")),
        str(body.get("domain", "?")),
        str(body.get("kind", "?")),
    )
    for fact in case.must:
        spellings = _spellings(fact, values)
        if not any(s in answer for s in spellings):
            result.missing.append(spellings[0])
    for fact in case.must_not:
        result.leaked += [s for s in _spellings(fact, values) if s in shown]
    return result


def _rows(results: list[Result], key: Callable[[Result], str]) -> list[str]:
    groups: dict[str, list[Result]] = defaultdict(list)
    for result in results:
        groups[key(result)].append(result)
    lines = []
    for name, group in sorted(groups.items()):
        good = sum(r.passed for r in group)
        wrong = sum(r.confident_wrong for r in group)
        lines.append(f"| {name} | {good}/{len(group)} | {good / len(group):.1%} | {wrong} |")
    return lines


def report(results: list[Result], title: str) -> str:
    """The score report (Markdown): overall, by role, by domain, and every failure."""
    passed = sum(r.passed for r in results)
    wrong = [r for r in results if r.confident_wrong]
    leaks = [r for r in results if r.leak]
    lines = [
        f"# {title}",
        "",
        f"- Questions: {len(results)}",
        f"- Passed: {passed} ({passed / max(len(results), 1):.1%})",
        f"- Confident wrong answers: {len(wrong)}",
        f"- Answers containing a forbidden fact (leak checks): {len(leaks)}",
        "",
    ]
    header = ["| {} | passed | share | confident wrong |", "|---|---|---|---|"]
    for label, key in (("role", lambda r: r.case.role), ("domain", lambda r: r.case.domain.split("|")[0])):
        lines += [f"## By {label}", "", header[0].format(label), header[1], *_rows(results, key), ""]
    failures = [r for r in results if not r.passed]
    lines += ["## Failures", ""] + [
        f"- {r.case.who}: {r.question!r} -> {r.domain}/{r.kind} ({r.mode}), expected "
        f"{r.case.domain}/{r.case.kind}; missing {r.missing}, forbidden present {r.leaked}"
        for r in failures
    ]
    return "\n".join([*lines, "" if failures else "None.", ""])


def cases() -> tuple[Case, ...]:
    from backend.assistant.evaluation import (
        admins,
        blind_fourth,
        blind_parents,
        blind_staff,
        blind_third,
        parents,
        teachers,
    )

    first = (*parents.CASES, *teachers.CASES, *admins.CASES)
    blind = (*blind_parents.CASES, *blind_staff.CASES, *blind_third.CASES, *blind_fourth.CASES)
    return (*first, *blind)
