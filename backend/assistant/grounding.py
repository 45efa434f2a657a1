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
from dataclasses import dataclass, field, replace
from typing import Literal

from backend.assistant.catalogue import DOMAIN_BY_NAME, DomainName, PageName, domains_for
from backend.assistant.classfacts import (
    ClassGatherer,
    class_attendance,
    class_grades,
    class_list,
    class_roster,
)
from backend.assistant.facts import GATHERERS, Fact, Gatherer, refusal
from backend.assistant.howto import written
from backend.assistant.naming import ClassRef, Named, StudentRef, classes_named, resolve
from backend.assistant.people import classes, enrollment, guardians, overview
from backend.assistant.schooldays import calendar
from backend.assistant.schoolfacts import class_health, school_fees
from backend.assistant.understanding import STUDENT_DOMAINS, Question
from backend.tenancy import AuthContext, Role, allowed

Kind = Literal["answered", "clarify", "not_found", "refused", "overview"]
STUDENT_GATHERERS: dict[DomainName, Gatherer] = {
    **GATHERERS,
    "classes": classes,
    "enrollment": enrollment,
    "guardians": guardians,
}
CLASS_GATHERERS: dict[DomainName, ClassGatherer] = {
    "health": class_health,
    "grades": class_grades,
    "attendance": class_attendance,
    "enrollment": class_roster,
    "classes": class_list,
    "fees": school_fees,
}
DATA_DOMAINS: tuple[DomainName, ...] = ("attendance", "grades", "fees", "health", "enrollment")
CLASS_AIMS = ("average", "lowest", "highest", "count", "list", "missing", "teacher")
MAX_CLASSES = 60
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
        sample = d.sample_questions[0 if auth.role == Role.PARENT else -1]
        facts.append(Fact(f"{d.title}: {d.description} For example: \u201c{sample}\u201d"))
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


def _students(auth: AuthContext, domain: DomainName, question: Question, named: Named) -> Grounding:
    if named.ambiguous:
        listed = ", ".join(ref.label for ref in named.ambiguous[:8])
        ask = f"Several students you can see answer to that name: {listed}. Which one do you mean?"
        return Grounding([Fact(ask)], "clarify", domain)
    if named.students and auth.role == Role.PARENT and _about_the_class(question):
        text = "Figures for a whole class are shared with staff only; I can tell you about your own child."
        return Grounding([Fact(text)], "refused", domain)
    if named.students:
        facts = [Fact(g) for g in named.guesses] + STUDENT_GATHERERS[domain](auth, question, named.students)
        for other in _second_part(auth, domain, question):  # "how is Ada doing and what does she owe?"
            facts += STUDENT_GATHERERS[other](auth, question, named.students)
        return Grounding(facts, "answered", domain, named.students)
    if named.unmatched:
        names = " or ".join(named.unmatched)
        return Grounding([Fact(f"I can't find {names} among the students you can see.")], "not_found", domain)
    if auth.role == Role.PARENT:
        return Grounding([Fact("No children are linked to your account.")], "not_found", domain)
    return _class_level(auth, domain, question)


# A parent asking about the class rather than their child: class figures are for staff.
WHOLE_CLASS = re.compile(
    r"\bclass (average|size|rank\w*|position|list)\b|\b(whole|rest of the|in the) class\b|\bclassmates\b"
    r"|\byear group\b|\bother (kids|children|students|pupils)\b|\bhow many (students|kids|children|pupils)\b"
    r"|\bwhich (kids|children|students|pupils)\b|\bin (his|her|their|[^\W\d_]+'s) class\b"
    r"|\bcompared? (to|with) (the )?(class|others|everyone)\b"
    r"|\bwho (is|has|was) (the )?(lowest|highest|best|worst|top)\b"
    r"|\baverage (in|of|for) (year|the class|\w+ \d+)",
    re.IGNORECASE,
)


def _second_part(auth: AuthContext, domain: DomainName, question: Question) -> list[DomainName]:
    """A question in two parts joined by "and" ("how many are in my class and what's the average?"):
    the second data domain it names, when the caller may see it."""
    if not re.search(r"\b(and|also|plus|as well)\b", question.text, re.IGNORECASE):
        return []
    others = [d for d in question.also if d in DATA_DOMAINS and d != domain]
    return [d for d in others[:1] if allowed(auth.role, DOMAIN_BY_NAME[d].permission)]


def _about_the_class(question: Question) -> bool:
    """ "What's the average in Year 5 Maths?", "who is lowest in the class?" from a parent."""
    return bool(WHOLE_CLASS.search(question.text))


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
        or bool(re.search(r"\b(my|our) class(es)?\b", question.text, re.IGNORECASE))  # "my class's rate"
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


def _class_facts(
    auth: AuthContext, domain: DomainName, question: Question, named: list[ClassRef], mine: list[ClassRef]
) -> list[Fact]:
    classes = (named or mine)[:MAX_CLASSES]
    facts = CLASS_GATHERERS[domain](auth, question, classes, bool(named))
    for other in _second_part(auth, domain, question):  # "how many in my class and the average?"
        if other in CLASS_GATHERERS and _wants_classes(other, question, named):
            facts += CLASS_GATHERERS[other](auth, question, classes, bool(named))
    return facts


def _class_level(auth: AuthContext, domain: DomainName, question: Question) -> Grounding:
    """Staff, nobody named: the classes named (or all of the caller's), when the question is about
    a class; otherwise one clarifying question."""
    named, mine = classes_named(auth, question)
    if not mine:
        whose = "The school has" if auth.role == Role.ADMIN else "You have"
        return Grounding([Fact(f"{whose} no current classes in Homeroom.")], "not_found", domain)
    if question.subjects and not named and domain in ("grades", "attendance", "enrollment", "classes"):
        return _no_such_class(auth, domain, question, mine)
    if domain == "grades" and auth.role == Role.ADMIN and not named and not _school_wide(question):
        listed = ", ".join(c.name for c in mine[:MAX_CLASSES])
        ask = f"Which class or student do you mean? The current classes: {listed}."
        return Grounding([Fact(ask)], "clarify", domain)
    if domain in CLASS_GATHERERS and _wants_classes(domain, question, named):
        return Grounding(_class_facts(auth, domain, question, named, mine), "answered", domain)
    example = mine[0].name
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


def _ahead(auth: AuthContext, question: Question) -> bool:
    return question.period is not None and question.period.start > auth.today()


def _data_period(auth: AuthContext, question: Question) -> Question:
    """A period entirely in the future says nothing about marks or grades ("we meet next week,
    who has the lowest attendance?"): the default period is used instead."""
    if question.period is not None and question.period.start > auth.today():
        return replace(question, period=None)
    return question


def ground(
    auth: AuthContext, question: Question, student_id: uuid.UUID | None, page: PageName | None
) -> Grounding:
    domain = question.domain
    if question.aims_at("overview") and domain in (None, "help") and student_id is None:
        return overview_of(auth)
    if domain is None:
        return _unplaced_domain(auth, question, student_id)
    if _howto_domain(question) and student_id is None:
        return Grounding(written(auth, "help", question, page), "answered", "help")
    if not allowed(auth.role, DOMAIN_BY_NAME[domain].permission):
        return Grounding([refusal(domain)], "refused", domain)
    if domain == "calendar" or (domain == "attendance" and _ahead(auth, question) and not question.aims):
        # "will they be in on the 22nd?": marks are for days gone; a day ahead is a school day or not
        return Grounding(calendar(auth, question, question.period), "answered", "calendar")
    if domain not in STUDENT_DOMAINS:
        return Grounding(written(auth, domain, question, page), "answered", domain)
    question = _data_period(auth, question)
    return _students(auth, domain, question, resolve(auth, question, student_id))


def _unplaced_domain(auth: AuthContext, question: Question, student_id: uuid.UUID | None) -> Grounding:
    """No domain in the words: a student named with a day is their attendance ("was Ada in on
    Friday?"), a bare name or admission number their overview ("show me D-007"); otherwise the
    question is not understood and nothing is looked up."""
    if student_id is None and not question.name_words:
        return _nobody_named(auth, question)
    named = resolve(auth, question, student_id)
    if named.students and not named.ambiguous and question.period is not None:
        return _students(auth, "attendance", _data_period(auth, question), named)
    if named.students and not named.ambiguous:
        facts = [Fact(g) for g in named.guesses] + overview(auth, question, named.students)
        return Grounding(facts, "answered", "enrollment", named.students)
    if named.ambiguous or _named_someone(question, named):
        return _students(auth, "enrollment", question, named)
    return unplaced(auth)  # "tell me a joke about penguins": no name, nothing looked up


def _nobody_named(auth: AuthContext, question: Question) -> Grounding:
    """ "Are they in on the 22nd?": a day ahead is a school day or not; a parent asking about a day
    gone means their children's attendance. Anything else is not understood."""
    about_school = re.search(r"\b(in|school|open|closed|there)\b", question.text, re.IGNORECASE)
    if about_school and _ahead(auth, question):
        return Grounding(calendar(auth, question, question.period), "answered", "calendar")
    if about_school and question.period is not None and auth.role == Role.PARENT:
        return _students(auth, "attendance", question, resolve(auth, question, None))
    return unplaced(auth)


def _named_someone(question: Question, named: Named) -> bool:
    """A capitalised word or an admission number in a name's place ("tell me about Zebedee")."""
    slotted = {w.lower() for w in question.slotted}
    return any(w.lower() in slotted and (w[0].isupper() or not w.isalpha()) for w in named.unmatched)
