"""From an understood question to what the answer may say, and what kind of answer it is.

`answered` answers from facts; `clarify` says what it understood and asks one question (or lists
what it can help with); `not_found` names what matched nothing the caller can see; `refused`
says the role cannot see the domain; `overview` is the friendly list of what to ask. Only an
`answered` grounding reaches the language model. Never a confident answer to another question:
a subject, class or student that was asked about and not found is said, not swapped for another.
"""

from __future__ import annotations

import re
import uuid
from collections.abc import Callable
from dataclasses import dataclass, field, replace
from typing import Literal

from backend.assistant.catalogue import DOMAIN_BY_NAME, DomainName, PageName, domains_for
from backend.assistant.classfacts import CLASS_GATHERERS
from backend.assistant.facts import GATHERERS, Fact, refusal
from backend.assistant.howto import written
from backend.assistant.naming import ClassRef, StudentRef, classes_named, resolve
from backend.assistant.people import classes, enrollment, guardians, overview
from backend.assistant.schooldays import calendar
from backend.assistant.understanding import STUDENT_DOMAINS, Question
from backend.tenancy import AuthContext, Role, allowed

Kind = Literal["answered", "clarify", "not_found", "refused", "overview"]
Gatherer = Callable[[AuthContext, Question, list[StudentRef]], list[Fact]]
STUDENT_GATHERERS: dict[DomainName, Gatherer] = {
    **GATHERERS,
    "classes": classes,
    "enrollment": enrollment,
    "guardians": guardians,
}
CLASS_AIMS = ("average", "lowest", "highest", "count", "list", "missing", "teacher")
MAX_CLASSES = 12
STAFF_EXAMPLES = (
    "What is the average in {class_name}?",
    "Who has the lowest attendance in {class_name}?",
    "Who was absent today?",
    "Are any grades missing in {class_name}?",
)


@dataclass(frozen=True)
class Grounding:
    facts: list[Fact]
    kind: Kind
    domain: DomainName | Literal["unknown"]
    students: list[StudentRef] = field(default_factory=list)

    @property
    def substantive(self) -> bool:
        return self.kind == "answered" and bool(self.facts)


def _overview(
    auth: AuthContext, intro: str, kind: Kind, domain: DomainName | Literal["unknown"]
) -> Grounding:
    facts = [Fact(intro)]
    for d in domains_for(auth.role):
        facts.append(Fact(f"{d.title}: {d.description} For example: \u201c{d.sample_questions[0]}\u201d"))
    if auth.role != Role.PARENT:
        facts.append(Fact("Your classes: averages, the lowest attendance, who was absent, missing grades."))
    return Grounding(facts, kind, domain)


def overview_of(auth: AuthContext) -> Grounding:
    whom = {Role.PARENT: "your children", Role.TEACHER: "your classes and students"}.get(
        auth.role, "the school"
    )
    intro = f"Hello! I answer questions about {whom} from Homeroom's data, and how to do things here."
    return _overview(auth, intro, "overview", "help")


def unplaced(auth: AuthContext) -> Grounding:
    intro = (
        "I'm not sure what you are asking, so I have not looked anything up. "
        "Could you say which of these it is about?"
    )
    return _overview(auth, intro, "clarify", "unknown")


def _students(
    auth: AuthContext, domain: DomainName, question: Question, student_id: uuid.UUID | None
) -> Grounding:
    named = resolve(auth, question, student_id)
    if named.ambiguous:
        listed = ", ".join(ref.label for ref in named.ambiguous[:8])
        ask = f"Several students you can see answer to that name: {listed}. Which one do you mean?"
        return Grounding([Fact(ask)], "clarify", domain)
    if named.students:
        facts = [Fact(g) for g in named.guesses] + STUDENT_GATHERERS[domain](auth, question, named.students)
        return Grounding(facts, "answered", domain, named.students)
    if named.unmatched:
        names = " or ".join(named.unmatched)
        return Grounding([Fact(f"I can't find {names} among the students you can see.")], "not_found", domain)
    if auth.role == Role.PARENT:
        return Grounding([Fact("No children are linked to your account.")], "not_found", domain)
    return _class_level(auth, domain, question)


def _wants_classes(domain: DomainName, question: Question, named: list[ClassRef]) -> bool:
    if domain == "fees":
        return question.aims_at(*CLASS_AIMS) or question.mentions("overdue", "outstanding", "owe", "total")
    if domain == "classes":
        return True
    if domain == "health":  # "any allergies in my class?", "which of my kids have alerts?"
        group = re.search(r"\b(class|kids|students|pupils|children|anyone)\b", question.text, re.I)
        return bool(named or group) or question.aims_at("list", "count")
    return (
        bool(named)
        or question.aims_at(*CLASS_AIMS)
        or (domain == "attendance" and question.period is not None)
    )


def _school_wide(question: Question) -> bool:
    return bool(re.search(r"\b(school|all|every|each|whole|both|classes|averages)\b", question.text, re.I))


def _no_such_class(
    auth: AuthContext, domain: DomainName, question: Question, mine: list[ClassRef]
) -> Grounding:
    wanted = " or ".join(s.title() for s in question.subjects)
    yours = ", ".join(c.name for c in mine) or "none"
    whose = "the school's" if auth.role == Role.ADMIN else "your"
    article = "an" if wanted[0] in "AEIOU" else "a"
    text = f"I can't find {article} {wanted} class among {whose} current classes ({yours})."
    return Grounding([Fact(text)], "not_found", domain)


def _class_level(auth: AuthContext, domain: DomainName, question: Question) -> Grounding:
    """Staff, nobody named: the classes named (or all of the caller's), when the question is about
    a class; otherwise one clarifying question."""
    named, mine = classes_named(auth, question)
    if question.subjects and not named and domain in ("grades", "attendance", "enrollment", "classes"):
        return _no_such_class(auth, domain, question, mine)
    if domain == "grades" and auth.role == Role.ADMIN and not named and not _school_wide(question):
        listed = ", ".join(c.name for c in mine[:MAX_CLASSES])
        ask = f"Which class or student do you mean? The current classes: {listed}."
        return Grounding([Fact(ask)], "clarify", domain)
    if domain in CLASS_GATHERERS and _wants_classes(domain, question, named):
        facts = CLASS_GATHERERS[domain](auth, question, (named or mine)[:MAX_CLASSES], bool(named))
        return Grounding(facts, "answered", domain)
    example = mine[0].name if mine else "a class"
    ask = (
        "Which student do you mean? Give their name or admission number, "
        f"or name a class (such as {example}) for a class answer."
    )
    return Grounding([Fact(ask)], "clarify", domain)


ACTION = re.compile(
    r"\bhow (do|can|should|would) (i|we|parents|they) (pay|report|change|update|add|link|take|enter|record"
    r"|create|publish|correct|mark|excuse|withdraw|admit|deactivate|edit|invite|reset|let|tell|contact)\b"
)


def _howto_domain(question: Question) -> bool:
    """How do I pay the fees? is about doing something, not the balance."""
    if not question.aims_at("howto") or question.domain not in STUDENT_DOMAINS:
        return False
    return not question.name_words or bool(ACTION.search(question.text.lower()))


def _data_period(auth: AuthContext, question: Question) -> Question:
    """A period entirely in the future says nothing about marks or grades ("we meet next week,
    who has the lowest attendance?"): the default period is used instead."""
    if question.period is not None and question.period.start > auth.today():
        return replace(question, period=None)
    return question


def _names_a_student(auth: AuthContext, question: Question, student_id: uuid.UUID | None) -> bool:
    return student_id is not None or bool(question.name_words and resolve(auth, question, None).students)


def ground(
    auth: AuthContext, question: Question, student_id: uuid.UUID | None, page: PageName | None
) -> Grounding:
    domain = question.domain
    if question.aims_at("overview") and domain in (None, "help") and student_id is None:
        return overview_of(auth)
    if domain is None and question.period is not None and _names_a_student(auth, question, student_id):
        domain = "attendance"  # "was Ada in on Friday?", "did Ada make it today?"
    if domain is None:
        if student_id is not None or question.name_words:
            return _students_overview(auth, question, student_id)
        return unplaced(auth)
    if _howto_domain(question) and student_id is None:
        return Grounding(written(auth, "help", question, page), "answered", "help")
    if not allowed(auth.role, DOMAIN_BY_NAME[domain].permission):
        return Grounding([refusal(domain)], "refused", domain)
    if domain == "calendar":
        return Grounding(calendar(auth, question, question.period), "answered", domain)
    if domain not in STUDENT_DOMAINS:
        return Grounding(written(auth, domain, question, page), "answered", domain)
    return _students(auth, domain, _data_period(auth, question), student_id)


def _students_overview(auth: AuthContext, question: Question, student_id: uuid.UUID | None) -> Grounding:
    """A bare name or admission number ("show me D-007"): the student at a glance."""
    named = resolve(auth, question, student_id)
    if named.students and not named.ambiguous:
        facts = [Fact(g) for g in named.guesses] + overview(auth, question, named.students)
        return Grounding(facts, "answered", "enrollment", named.students)
    slotted = {w.lower() for w in question.slotted}
    named_someone = [
        w for w in named.unmatched if w.lower() in slotted and (w[0].isupper() or not w.isalpha())
    ]
    if named.ambiguous or named_someone:
        return _students(auth, "enrollment", question, student_id)
    return unplaced(auth)  # "tell me a joke about penguins": no name, nothing looked up
