"""School days: whether there is school on a day, from the school's terms (the classes' Term rows)
and the holidays its knowledge base states ("Half term is the week of 16 February", "the autumn
term ends on 18 December; the spring term starts on 5 January", "closed on 4 May").

The knowledge base is prose written by the school, so only those plain forms are read as dates;
the entry itself is always part of the answer, so a reader sees what the school wrote.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import date, timedelta

from backend.assistant import knowledge
from backend.assistant.facts import Fact
from backend.assistant.howto import entry_fact
from backend.assistant.timeframe import MONTH, Period, TermSpan, named_date
from backend.assistant.understanding import Question
from backend.classes import Term
from backend.core.dates import long_date
from backend.core.extensions import db
from backend.tenancy import AuthContext

DAY = rf"(\d{{1,2}})(?:st|nd|rd|th)? ({MONTH})"
CALENDAR_WORDS = "term dates holidays half term closed break"


@dataclass(frozen=True)
class Closure:
    start: date
    end: date
    label: str


def _date(day: str, month: str, today: date) -> date | None:
    found = named_date(f"{day} {month}", today, future=True)
    if found is None:
        return None
    if found > today + timedelta(days=300):
        try:
            return found.replace(year=found.year - 1)
        except ValueError:  # 29 February
            return None
    return found


def _sentences(body: str) -> list[str]:
    return [s.strip() for s in re.split(r"[.;\n]", body) if s.strip()]


def _closures_in(sentence: str, today: date) -> list[Closure]:
    lowered = sentence.lower()
    found = []
    if (match := re.search(rf"week of {DAY}", lowered)) and (start := _date(match[1], match[2], today)):
        monday = start - timedelta(days=start.weekday())
        found.append(Closure(monday, monday + timedelta(days=4), sentence))
    closed = re.search(rf"(?:closed|no school) on {DAY}", lowered)
    if closed and (day := _date(closed[1], closed[2], today)):
        found.append(Closure(day, day, f"a closure ({sentence})"))
    if (match := re.search(rf"{DAY} (?:to|until|-) {DAY}", lowered)) and re.search(
        r"holiday|closed|break|no school", lowered
    ):
        start, end = _date(match[1], match[2], today), _date(match[3], match[4], today)
        if start and end and start <= end:
            found.append(Closure(start, end, f"a holiday ({sentence})"))
    return found


def _between_terms(sentences: list[str], today: date) -> list[Closure]:
    """ "X term ends on 18 December" and "Y term starts on 5 January": the days between are a holiday."""
    ends, starts = [], []
    for sentence in sentences:
        lowered = sentence.lower()
        if (m := re.search(rf"(?:ends?|finish(?:es)?) on {DAY}", lowered)) and (
            d := _date(m[1], m[2], today)
        ):
            ends.append((d, sentence))
        if (m := re.search(rf"(?:starts?|begins?) on {DAY}", lowered)) and (d := _date(m[1], m[2], today)):
            starts.append((d, sentence))
    found = []
    for end, said in ends:
        after = [(start, opened) for start, opened in starts if start > end]
        if after and (first := min(after))[0] - end > timedelta(days=1):
            label = f"the holiday between terms ({said}; {first[1]})"
            found.append(Closure(end + timedelta(days=1), first[0] - timedelta(days=1), label))
    return found


def closures(auth: AuthContext, today: date) -> tuple[list[Closure], list[Fact]]:
    """The holidays the knowledge base states, and its calendar entries as facts."""
    entries = knowledge.search(auth, CALENDAR_WORDS, limit=3)
    entries = [e for e in entries if re.search(r"\bterm\b|holiday|closure|calendar|dates", e.title.lower())]
    found: list[Closure] = []
    facts = []
    for entry in entries:
        sentences = _sentences(entry.body)
        found += [c for s in sentences for c in _closures_in(s, today)] + _between_terms(sentences, today)
        facts.append(entry_fact(entry))
    return found, facts


def terms_of(auth: AuthContext) -> list[TermSpan]:
    rows = db.session.scalars(auth.scoped(Term).order_by(Term.starts_on))
    return [TermSpan(t.name, t.starts_on, t.ends_on) for t in rows]


def _day(day: date, terms: list[TermSpan], holidays: list[Closure]) -> Fact:
    when = long_date(day)
    if day.weekday() >= 5:
        return Fact(f"No school on {when}: it is a weekend.")
    if closure := next((c for c in holidays if c.start <= day <= c.end), None):
        span = f"{long_date(closure.start)} to {long_date(closure.end)}"
        return Fact(f"No school on {when}: it falls in {closure.label}, {span}.")
    term = next((t for t in terms if t.start <= day <= t.end), None)
    if term is None:
        return Fact(f"No school on {when}: it is outside the term dates in Homeroom.")
    return Fact(f"{when} is a school day ({term.name}, {long_date(term.start)} to {long_date(term.end)}).")


def calendar(auth: AuthContext, question: Question, period: Period | None) -> list[Fact]:
    today = auth.today()
    terms = terms_of(auth)
    holidays, written = closures(auth, today)
    facts = []
    if period is not None and (period.end - period.start).days <= 14:
        days = [period.start + timedelta(days=n) for n in range((period.end - period.start).days + 1)]
        facts += [_day(d, terms, holidays) for d in days if period.single_day or d.weekday() < 5]
    current = next((t for t in terms if t.start <= today <= t.end), None)
    upcoming = [t for t in terms if t.start > today][:1]
    for term in [t for t in (current, *upcoming) if t is not None]:
        facts.append(Fact(f"{term.name} runs from {long_date(term.start)} to {long_date(term.end)}."))
    if not terms:
        facts.append(Fact("The school has not entered its terms in Homeroom yet."))
    return facts + written
