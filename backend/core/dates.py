"""The calendar as a school sees it: "today" is judged in the school's time zone."""

from __future__ import annotations

from datetime import date, datetime
from zoneinfo import ZoneInfo


def today_in(timezone: str) -> date:
    """Today's date in a time zone: "today", "overdue" and "this term" are judged where the school is."""
    return datetime.now(ZoneInfo(timezone)).date()


def long_date(day: date) -> str:
    """A date as people read it in a sentence: "Monday 30 November 2026"."""
    return f"{day:%A} {day.day} {day:%B %Y}"
