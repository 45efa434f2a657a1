"""The period a question names, in the school's calendar: today, on Friday, since Monday, last
week, this month, the last ten days, this term, last term, 4 December, 2026-12-04.

Dates are the school's. A weekday or a date without a year is read in the question's direction:
"was Ada in on Friday?" is the latest Friday, "is there school on Friday?" the next one.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass
from datetime import date, timedelta

from backend.assistant.vocabulary import MONTHS, WEEKDAYS
from backend.core.dates import long_date

NUMBERS = {"one": 1, "two": 2, "three": 3, "four": 4, "five": 5, "six": 6, "seven": 7, "eight": 8}
NUMBERS |= {"nine": 9, "ten": 10, "a": 1, "fourteen": 14, "twenty": 20, "thirty": 30}
COUNT = r"(\d{1,3}|" + "|".join(NUMBERS) + r")"
MONTH = "|".join(MONTHS) + "|" + "|".join(m[:3] for m in MONTHS) + "|sept"


@dataclass(frozen=True)
class Period:
    start: date
    end: date
    label: str

    @property
    def single_day(self) -> bool:
        return self.start == self.end


@dataclass(frozen=True)
class TermSpan:
    name: str
    start: date
    end: date


def day_period(day: date, label: str | None = None) -> Period:
    return Period(day, day, label or f"on {long_date(day)}")


def span(start: date, end: date, label: str) -> Period:
    return Period(start, end, f"{label} ({long_date(start)} to {long_date(end)})")


def _count(text: str) -> int:
    return int(text) if text.isdigit() else NUMBERS[text]


def _month_number(text: str) -> int:
    return 9 if text == "sept" else [m[:3] for m in MONTHS].index(text[:3]) + 1


def _in_direction(found: date, today: date, future: bool) -> date | None:
    """A date named without a year: this year's, or the nearest one in the question's direction
    (None for a 29 February that the other year lacks)."""
    try:
        if future and found < today - timedelta(days=60):
            return found.replace(year=found.year + 1)
        if not future and found > today:
            return found.replace(year=found.year - 1)
    except ValueError:
        return None
    return found


# Days known by name, as (month, day).
NAMED_DAYS = {
    "christmas eve": (12, 24),
    "christmas day": (12, 25),
    "boxing day": (12, 26),
    "new year's eve": (12, 31),
    "new years eve": (12, 31),
    "new year's day": (1, 1),
    "new years day": (1, 1),
}


def _named_day(lowered: str, today: date, future: bool) -> date | None:
    for name, (month, day) in NAMED_DAYS.items():
        if re.search(rf"\b(on )?{name}\b", lowered):
            return _in_direction(date(today.year, month, day), today, future)
    return None


def named_date(lowered: str, today: date, future: bool) -> date | None:
    """An ISO date, "4 December", "December 4th", "on 4/12" (day first, as UK schools write), or a
    day known by name ("boxing day")."""
    if found := _named_day(lowered, today, future):
        return found
    try:
        if match := re.search(r"\b(\d{4})-(\d{2})-(\d{2})\b", lowered):
            return date(int(match[1]), int(match[2]), int(match[3]))
        if match := re.search(rf"\b(\d{{1,2}})(?:st|nd|rd|th)?(?: of)? ({MONTH})\b", lowered):
            found = date(today.year, _month_number(match[2]), int(match[1]))
        elif match := re.search(rf"\b({MONTH}) (\d{{1,2}})(?:st|nd|rd|th)?\b", lowered):
            found = date(today.year, _month_number(match[1]), int(match[2]))
        elif match := re.search(
            r"\b(?:on|for|from|since|until|by) (\d{1,2})/(\d{1,2})(?:/(\d{2,4}))?\b", lowered
        ):
            year = int(match[3]) if match[3] else today.year
            found = date(year + 2000 if year < 100 else year, int(match[2]), int(match[1]))
            if match[3]:
                return found
        else:
            return None
    except ValueError:
        return None
    return _in_direction(found, today, future)


def _weekday(lowered: str, today: date, future: bool) -> Period | None:
    names = "|".join(WEEKDAYS)
    match = re.search(rf"\b(since |last |next |this (?:coming )?|coming )?({names})s?\b", lowered)
    if not match:
        return None
    weekday, qualifier = WEEKDAYS.index(match[2]), (match[1] or "").strip()
    if qualifier in ("next", "coming") or (future and qualifier != "last" and qualifier != "since"):
        ahead = (weekday - today.weekday()) % 7 or (7 if qualifier == "next" else 0)
        return day_period(today + timedelta(days=ahead))
    back = (today.weekday() - weekday) % 7 or (7 if qualifier == "last" else 0)
    day = today - timedelta(days=back)
    return span(day, today, f"since {long_date(day)}") if qualifier == "since" else day_period(day)


def _relative_day(lowered: str, today: date) -> Period | None:
    if re.search(r"\btoday\b|\bthis (morning|afternoon)\b|\btonight\b|\bright now\b", lowered):
        return day_period(today, f"today ({long_date(today)})")
    if re.search(r"\byesterday\b", lowered):
        return day_period(today - timedelta(days=1), f"yesterday ({long_date(today - timedelta(days=1))})")
    if re.search(r"\btomorrow\b", lowered):
        return day_period(today + timedelta(days=1), f"tomorrow ({long_date(today + timedelta(days=1))})")
    return None


def _weeks_and_months(lowered: str, today: date) -> Period | None:
    monday = today - timedelta(days=today.weekday())
    if re.search(r"\bthis week\b|\bso far this week\b", lowered):
        return span(monday, today, "this week")
    if re.search(r"\blast week\b|\bpast week\b|\bprevious week\b", lowered):
        return span(monday - timedelta(days=7), monday - timedelta(days=1), "last week")
    if re.search(r"\bnext week\b", lowered):
        return span(monday + timedelta(days=7), monday + timedelta(days=13), "next week")
    if re.search(r"\bthis month\b", lowered):
        return span(today.replace(day=1), today, "this month")
    if re.search(r"\blast month\b|\bprevious month\b", lowered):
        end = today.replace(day=1) - timedelta(days=1)
        return span(end.replace(day=1), end, "last month")
    if match := re.search(rf"\b(?:last|past|previous) {COUNT} (day|week)s?\b", lowered):
        days = _count(match[1]) * (7 if match[2] == "week" else 1)
        return span(today - timedelta(days=max(days - 1, 0)), today, f"the last {days} days")
    return None


def _terms(lowered: str, today: date, terms: list[TermSpan]) -> Period | None:
    current = next((t for t in terms if t.start <= today <= t.end), None)
    if re.search(r"\b(last|previous) term\b", lowered):
        before = [t for t in terms if t.end < (current.start if current else today)]
        last = max(before, key=lambda t: t.end, default=None)
        return span(last.start, last.end, f"last term, {last.name}") if last else None
    if re.search(r"\bterm\b|\bthis year\b|\bso far\b", lowered) and current is not None:
        return span(current.start, min(current.end, today), f"this term, {current.name}")
    return None


def period_of(text: str, today: date, terms: list[TermSpan], *, future: bool = False) -> Period | None:
    """The period a question names; None when it names none."""
    lowered = text.lower()
    if re.search(r"\bsince\b", lowered) and (day := named_date(lowered, today, future=False)):
        return span(day, today, f"since {long_date(day)}")
    if day := named_date(lowered, today, future):
        return day_period(day)
    finders: tuple[Callable[[], Period | None], ...] = (
        lambda: _relative_day(lowered, today),
        lambda: _weekday(lowered, today, future),
        lambda: _weeks_and_months(lowered, today),
        lambda: _terms(lowered, today, terms),
    )
    for finder in finders:
        if found := finder():
            return found
    return None


def threshold_of(text: str) -> int | None:
    """ "absent three days or more" -> 3."""
    match = re.search(
        rf"(?<!last )(?<!past )(?<!previous )(?<!the )\b{COUNT} (?:or more )?(?:school )?days?\b",
        text.lower(),
    )
    return _count(match[1]) if match and match[1] != "a" else None
