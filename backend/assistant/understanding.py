"""From a question to what it is about: the domain, the period, the threshold and the subject.

Plain rules, no model: the model (when there is one) only phrases the answer, so what data is
read never depends on it. Dates are the school's: "Monday" is the latest Monday on or before
today in the school's time zone.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import date, timedelta

from backend.assistant.catalogue import DomainName, PageName
from backend.core.dates import long_date

WORD = re.compile(r"[a-z0-9][a-z0-9'\-]*")
WEEKDAYS = ("monday", "tuesday", "wednesday", "thursday", "friday", "saturday", "sunday")
MONTHS = (
    "january",
    "february",
    "march",
    "april",
    "may",
    "june",
    "july",
    "august",
    "september",
    "october",
    "november",
    "december",
)
NUMBERS = {
    "one": 1,
    "two": 2,
    "three": 3,
    "four": 4,
    "five": 5,
    "six": 6,
    "seven": 7,
    "eight": 8,
    "nine": 9,
    "ten": 10,
}

# Each domain's signals (regular expressions on the lower-cased question) and their weight.
SIGNALS: dict[DomainName, tuple[tuple[str, float], ...]] = {
    "attendance": (
        (r"\babsen\w*|\battend\w*|\blate\b|\bpresent\b|\bregisters?\b|\btruan\w*", 2),
        (r"\bat school\b|\bin school\b|\bmiss(ed|ing)? (school|class)|\boff (school|sick)\b|\bskipp?\w*", 2),
    ),
    "grades": (
        (r"\bgrades?\b|\bgraded\b|\bscores?\b|\bmarks\b|\btests?\b|\bexams?\b|\bassessments?\b", 2),
        (r"\bresults?\b|\baverages?\b|\bdoing (in|at|with)\b|\bprogress\b|\breport card\b|\bperform\w*", 2),
        (r"\bhow(?:'s| is| are) [\w'\-]+ (?:doing|getting on)\b", 2),
    ),
    "fees": (
        (r"\bfees?\b|\bbalance\b|\bowe\w*|\binvoices?\b|\bpay(ment|ments|ing)?\b|\bpaid\b|\bbill\w*", 2),
        (r"\boverdue\b|\boutstanding\b|\btuition\b|\bdue date\b|\bhow much\b", 2),
    ),
    "health": (
        (r"\bhealth\w*|\ballerg\w*|\bmedic\w*|\balerts?\b|\basthma\b|\bepipen\b|\bconditions?\b", 2),
        (r"\bwellbeing\b|\bnurse\b|\bblood\b|\bdiabet\w*|\binhaler\b|\bepilep\w*|\bwell-being\b", 2),
    ),
    "classes": ((r"\bclass(es)?\b|\bteach(er|ers|es|ing)?\b|\bsubjects?\b|\btimetable\b|\blessons?\b", 1.5),),
    "enrollment": (
        (r"\benrol\w*|\badmission\b|\badmitted\b|\byear group\b|\bgrade level\b|\bwithdr[ae]w\w*", 2),
        (r"\bgraduat\w*|\bjoin(ed)?\b|\bleft the school\b|\bstudent number\b|\bstatus\b", 1.5),
    ),
    "guardians": (
        (r"\bguardians?\b|\bcontacts?\b|\bcarers?\b|\bparents\b|\blinked\b|\bemergency\b", 2),
        (r"\bwho (are|is) (the|his|her|their) (parent|mother|father|mum|dad)", 2),
    ),
    "policies": (
        (r"\bpolic(y|ies)\b", 2.5),
        (r"\buniform\b|\brules?\b|\bholidays?\b|\bterm dates?\b|\bschool hours\b", 2),
        (r"\bwhat time\b|\blunch\b|\bbus\b|\btrips?\b|\bfaqs?\b|\bphones?\b|\breport an absence\b", 1.5),
    ),
    "account": (
        (r"\bpassword\b|\bsign(ed)? ?(in|out)\b|\blog ?(in|out)\b|\blogin\b|\baccount\b|\bprofile\b", 2),
        (r"\bsessions?\b|\bmy email\b|\blocked out\b|\bdevices?\b", 1.5),
    ),
    "help": (
        (r"\b(how|where) (do|can|should) i\b|\bhow to\b|\bwhere is\b|\bwhere are\b|\bwhere can\b", 2.5),
        (r"\bhomeroom\b|\bpage\b|\bbutton\b|\bscreen\b|\bmenu\b|\btab\b", 1),
    ),
}
# Questions of these domains are about students; the others are about the school or the caller.
STUDENT_DOMAINS: frozenset[DomainName] = frozenset(
    {"attendance", "grades", "fees", "health", "classes", "enrollment", "guardians"}
)
PAGE_DOMAINS: dict[PageName, DomainName] = {
    "attendance": "attendance",
    "grades": "grades",
    "fees": "fees",
    "health": "health",
    "classes": "classes",
    "student": "enrollment",
    "students": "enrollment",
    "account": "account",
    "knowledge": "policies",
}
# Words that are not names even when capitalised, and words too common to be looked up as names.
NOT_NAMES = frozenset(
    {*WEEKDAYS, *MONTHS, "i", "homeroom", "maths", "math", "english", "science", "history", "art", "music"}
    | {"physics", "chemistry", "biology", "geography", "french", "spanish", "german", "pe", "computing"}
    | {"drama", "reading", "writing", "year", "ok", "hi", "hello", "thanks", "dear", "mr", "mrs", "ms"}
    | {"what", "who", "when", "where", "why", "how", "which", "was", "is", "are", "did", "does", "do", "can"}
    | {"my", "the", "a", "an", "and", "or", "of", "in", "on", "at", "for", "to", "this", "last", "next"}
    | {"today", "yesterday", "week", "month", "term", "school", "child", "son", "daughter", "kid", "please"}
    | {"ignore", "list", "all", "students", "student", "show", "tell", "me", "give", "every", "your"}
)


@dataclass(frozen=True)
class Period:
    start: date
    end: date
    label: str

    @property
    def single_day(self) -> bool:
        return self.start == self.end


@dataclass(frozen=True)
class Question:
    text: str
    words: tuple[str, ...]
    domain: DomainName | None
    period: Period | None
    threshold: int | None  # "absent three days" -> 3
    name_words: tuple[str, ...]  # capitalised words that may be names
    also: tuple[DomainName, ...] = ()  # the other domains it touches, strongest first

    def mentions(self, *fragments: str) -> bool:
        lowered = self.text.lower()
        return any(fragment in lowered for fragment in fragments)


def classify(text: str, page: PageName | None) -> list[DomainName]:
    """The domains a question touches, strongest first; the page the caller is on breaks ties.

    "How do I ..." about one's account is about the account (its facts include the how-to)."""
    lowered = text.lower()
    scores: dict[DomainName, float] = {}
    for domain, signals in SIGNALS.items():
        score = sum(weight * len(re.findall(pattern, lowered)) for pattern, weight in signals)
        if score:
            scores[domain] = score
    if not scores:
        return []
    if page is not None and (page_domain := PAGE_DOMAINS.get(page)) in scores:
        scores[page_domain] += 0.5  # the page breaks ties
    if "account" in scores and "help" in scores:
        scores["account"] += scores.pop("help")
    return sorted(scores, key=lambda domain: -scores[domain])


def _weekday_before(today: date, weekday: int, *, strictly: bool) -> date:
    back = (today.weekday() - weekday) % 7
    if back == 0 and strictly:
        back = 7
    return today - timedelta(days=back)


def _named_date(lowered: str, today: date) -> date | None:
    if match := re.search(r"\b(\d{4})-(\d{2})-(\d{2})\b", lowered):
        try:
            return date(int(match[1]), int(match[2]), int(match[3]))
        except ValueError:
            return None
    months = "|".join(MONTHS)
    match = re.search(
        rf"\b(\d{{1,2}})(?:st|nd|rd|th)? ({months})\b|\b({months}) (\d{{1,2}})(?:st|nd|rd|th)?\b", lowered
    )
    if not match:
        return None
    day_text, month_text = (match[1], match[2]) if match[1] else (match[4], match[3])
    try:
        found = date(today.year, MONTHS.index(month_text) + 1, int(day_text))
    except ValueError:
        return None
    return found if found <= today else found.replace(year=found.year - 1)


def period_of(text: str, today: date, term: tuple[date, date] | None) -> Period | None:
    """The period a question names, in the school's calendar; None when it names none."""
    lowered = text.lower()
    if day := _named_date(lowered, today):
        return Period(day, day, f"on {long_date(day)}")
    if re.search(r"\btoday\b", lowered):
        return Period(today, today, f"today ({long_date(today)})")
    if re.search(r"\byesterday\b", lowered):
        day = today - timedelta(days=1)
        return Period(day, day, f"yesterday ({long_date(day)})")
    for number, name in enumerate(WEEKDAYS):
        if match := re.search(rf"\b(last )?{name}\b", lowered):
            day = _weekday_before(today, number, strictly=bool(match[1]))
            return Period(day, day, f"on {long_date(day)}")
    monday = today - timedelta(days=today.weekday())
    if re.search(r"\bthis week\b", lowered):
        return Period(monday, today, f"this week ({long_date(monday)} to {long_date(today)})")
    if re.search(r"\blast week\b", lowered):
        start = monday - timedelta(days=7)
        return Period(
            start,
            start + timedelta(days=6),
            f"last week ({long_date(start)} to {long_date(start + timedelta(days=6))})",
        )
    if re.search(r"\bthis month\b", lowered):
        start = today.replace(day=1)
        return Period(start, today, f"this month ({long_date(start)} to {long_date(today)})")
    if re.search(r"\blast month\b", lowered):
        end = today.replace(day=1) - timedelta(days=1)
        start = end.replace(day=1)
        return Period(start, end, f"last month ({long_date(start)} to {long_date(end)})")
    if match := re.search(r"\b(?:last|past) (\d{1,3}|" + "|".join(NUMBERS) + r") days\b", lowered):
        days = int(match[1]) if match[1].isdigit() else NUMBERS[match[1]]
        start = today - timedelta(days=max(days - 1, 0))
        return Period(start, today, f"the last {days} days ({long_date(start)} to {long_date(today)})")
    if re.search(r"\bthis term\b|\bterm\b", lowered) and term is not None:
        return Period(
            term[0],
            min(term[1], today),
            f"this term ({long_date(term[0])} to {long_date(min(term[1], today))})",
        )
    return None


def threshold_of(text: str) -> int | None:
    match = re.search(
        r"\b(\d{1,2}|" + "|".join(NUMBERS) + r") (?:or more )?(?:school )?days?\b", text.lower()
    )
    if not match:
        return None
    return int(match[1]) if match[1].isdigit() else NUMBERS[match[1]]


def name_words(text: str) -> tuple[str, ...]:
    """Words that could be a student's name: capitalised ones (not a sentence's first word unless
    possessive) and admission-number-like tokens, outside NOT_NAMES."""
    found: list[str] = []
    for sentence in re.split(r"[.!?]\s+", text):
        tokens = re.findall(r"[A-Za-z][A-Za-z'\-]*|[A-Za-z]+-\d+", sentence)
        for position, token in enumerate(tokens):
            bare = re.sub(r"'s$", "", token)
            if bare.lower() in NOT_NAMES or len(bare) < 2:
                continue
            possessive = token.endswith("'s")
            if (bare[0].isupper() and (position > 0 or possessive)) or re.fullmatch(r"[A-Za-z]+-\d+", bare):
                found.append(bare)
    return tuple(dict.fromkeys(found))


def understand(text: str, page: PageName | None, today: date, term: tuple[date, date] | None) -> Question:
    domains = classify(text, page)
    if page is not None and not domains:
        domains = ["help"]  # nothing in the words: help with the page the caller is on
    return Question(
        text=text,
        words=tuple(WORD.findall(text.lower())),
        domain=domains[0] if domains else None,
        also=tuple(domains[1:]),
        period=period_of(text, today, term),
        threshold=threshold_of(text),
        name_words=name_words(text),
    )
