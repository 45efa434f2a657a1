"""From a question to what it is about: the domain, what is asked of it (a value, an average, the
lowest, a count, a list, the teacher, how to do something), the period, the subject and the words
that may name a student.

Plain rules, no model: the model (when there is one) only phrases the answer, so what data is read
never depends on it.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import date

from backend.assistant.catalogue import DomainName, PageName
from backend.assistant.timeframe import Period, TermSpan, period_of, threshold_of
from backend.assistant.vocabulary import COMMON, KEYWORDS, SHORTHAND, corrected, subject_words

WORD = re.compile(r"[^\W_][\w'\-]*")
LETTERS = r"[^\W\d_]"  # a letter in any alphabet (Zoë, Ångström)
HONORIFIC = re.compile(r"\b(Mr|Mrs|Ms|Miss|Mx|Dr|Sir|Madam)\.?\s+[^\W\d_][\w'\-]*")
ADMISSION = re.compile(r"\b[A-Za-z]{1,4}-?\s?\d{1,6}\b")

# Each domain's signals (regular expressions on the lower-cased question) and their weight.
SIGNALS: dict[DomainName, tuple[tuple[str, float], ...]] = {
    "attendance": (
        (r"\babsen\w*|\battend\w*|\battendence\b|\blate\b|\bpresent\b|\bregisters?\b|\btruan\w*", 2),
        (r"\bexcus\w*|\bmisses\b|\b(are|is) (they|he|she) in\b", 2),
        (r"\b(at|in) school\b", 1.5),
        (r"\bmiss(ed|ing)? (the most )?(school|class|lessons?|days?)|\boff (school|sick)\b", 2),
        (r"\b(been|was|is|were|be) (off|away|absent|out)\b|\bhow often\b", 2),
        (r"\bwho('s| is) (off|away|out|missing)\b", 2),
        (r"\b(go|went|gone|been|get|got) (to|in to|into) school\b|\boff today\b|\bmissing today\b", 2),
        (r"\bmissed\b|\b(make|made|come|came|get|got) (it )?in\b|\bin (today|yesterday)\b|\bdays? away\b", 2),
        (r"\b(was|is|were) [a-z][\w'\-]*(?: [a-z][\w'\-]*)? in (today|yesterday|on|this|last)\b", 2),
        (r"\bon time\b", 2),
        (r"\bskipp?\w*|\bdays? (off|missed)\b|\bturn(ed)? up\b|\bshow(ed)? up\b|\bin class\b", 2),
    ),
    "grades": (
        (r"\bgrades?\b|\bgraded\b|\bscor\w*|\bmarks\b|\btests?\b|\bexams?\b|\bassessments?\b|\bquiz", 2),
        (r"\bresults?\b|\baverages?\b|\bprogress\w*|\breport card\b|\bperform\w*|\bdid .{1,40} get\b", 2),
        (r"\bhow(?:'s| is| are)\b[\w' \-]{1,40}\b(doing|getting on|getting along|coping|going)\b", 2),
        (r"\bhow [\w' \-]{1,30} (is|are) (doing|getting on|coping|progressing)\b", 2),
        (r"\bstruggl\w*|\bbehind\b|\bimprov\w*|\bstrongest\b|\bweakest\b|\bungraded\b", 1.5),
        (r"\bdoing (better|worse|best|worst|well|badly|ok|okay|alright|fine|good)\b|\bcompar\w*", 2),
        (r"\b(still )?to (enter|mark|grade)\b|\bhaven'?t (entered|marked|graded)\b", 2),
    ),
    "fees": (
        (
            r"\bfees?\b|\bbalance\b|\bbalence\b|\bowe[sd]?\b|\bowing\b|\binvoices?\b|\bpay(ment|ments|ing)?\b|\bpaid\b",
            2,
        ),
        (r"\boverdue\b|\boutstanding\b|\btuition\b|\bdue\b|\bhow much\b|\bbills?\b|\bbilled\b", 2),
        (r"\bdebt\w*|\barrears\b", 2),
    ),
    "health": (
        (r"\bhealth\w*|\ballerg\w*|\bmedic\w*|\balerts?\b|\basthma\w*|\bepipen\b|\bconditions?\b", 2),
        (r"\bwellbeing\b|\bnurse\b|\bblood\b|\bdiabet\w*|\binhaler\b|\bepilep\w*|\bauto-?injector\b", 2),
        (r"\bpeanuts?\b|\bnuts?\b|\bmedicines?\b|\bsalbutamol\b", 1.5),
    ),
    "classes": (
        (
            r"\bclass(es)?\b|\bteach(er|ers|es|ing)?\b|\btaught\b|\bsubjects?\b|\btimetable\b|\blessons?\b",
            1.5,
        ),
        (r"\bwho takes\b|\bform tutor\b|\bin charge of\b", 2),
    ),
    "enrollment": (
        (r"\benrol\w*|\badmission\b|\badmitted\b|\byear group\b|\bgrade level\b|\bwithdr[ae]w\w*", 2),
        (r"\bgraduat\w*|\bjoin(ed)?\b|\bleft the school\b|\bstudent (number|id)\b|\bstatus\b", 1.5),
        (r"\bhow many (students|pupils|children|kids)\b|\bnumber of (students|pupils|children)\b", 2.5),
        (r"\bdate of birth\b|\bbirthday\b|\bhow old\b|\bstart(ed)? (at|school)\b", 1.5),
    ),
    "guardians": (
        (r"\bguardians?\b|\bcontacts?\b|\bcarers?\b|\bparents?\b|\blinked\b|\bemergency\b", 2),
        (r"\b(am i|are we) allowed to see\b|\bdo i have access\b|\bwhat can i see\b", 3),
        (r"\bcan i see\b", 1.5),
        (r"\b(mother|father|mum|dad|mom)\b|\bnext of kin\b|\bwho (do|should) i call\b", 2),
    ),
    "policies": (
        (r"\bpolic(y|ies)\b|\brules?\b|\ballowed\b|\bprocedures?\b|\bwhat happens if\b|\bwhat if\b", 2.5),
        (
            r"\bcan (my child|my son|my daughter|they|pupils|students|kids|children|he|she) "
            r"(bring|wear|have|use)\b",
            3,
        ),
        (r"\bcan (you|the school|staff|the office) (give|administer|keep)\b(?! me\b)", 4),
        (r"\bis it (ok|okay|fine)\b", 4),
        (r"\bstay with\b|\b(does it|do they|does he|does she) have to\b|\bhave to go\b", 3),
        (r"\blet (the school|you|the office|school) know\b|\bright way\b|\bwill not be (coming|in)\b", 2.5),
        (r"\b(is|are|'s) (sick|ill|unwell|poorly)\b|\bwho do i (tell|call|contact|inform|ring)\b", 3),
        (r"\bdrop (him|her|them|my \w+ )?off\b|\bcollect (him|her|them)\b|\bpick (him|her|them) up\b", 2.5),
        (r"\bpick ?up\b|\bdrop ?off\b|\bschool day (start|end)s?\b", 2.5),
        (r"\bstart of the day\b|\bend of the day\b", 2.5),
        (r"\buniform\b|\bschool hours\b|\bdress code\b|\bpe kit\b|\bjumper\b|\bshoes\b", 2),
        (r"\bwhat time\b|\blunch\b|\bbus\b|\btrips?\b|\bfaqs?\b|\bmobile\b|\bphones?\b|\bstart time\b", 1.5),
        (r"\bbreakfast club\b|\bgates?\b|\bconsent\b|\bbank transfer\b|\bhave to\b|\bneed to\b", 1.5),
    ),
    "calendar": (
        (r"\ba school day\b|\bschool days\b|\bis there school\b|\b(first|last) day of (the )?term\b", 3),
        (r"\bwhen('s| is)? (the )?(end|start|last day|first day) of (the )?term\b|\bterm (end|start)s?\b", 3),
        (r"(?<!in )(?<!at )(?<!to )\bschool (on|tomorrow|next (week|\w+day)|this (week|\w+day))\b", 3),
        (r"\bterm (dates?|ends?|starts?|begins?|finish\w*|times)\b|\bhalf[- ]?term\b|\bholidays?\b", 3),
        (r"\b(when|what day) (does|do|is) (school|term|the term)\b|\bclosed\b|\bbreak up\b", 3),
        (r"\b(end|start) of (the )?term\b|\bback to school\b|\bvacation\b|\bchristmas\b|\beaster\b", 1.5),
        (r"\bopen (on|tomorrow)\b|\bnext term\b|\bterm time\b|\binset\b|\bweekend\b|\bcalendar\b", 2),
    ),
    "account": (
        (r"\bpassword\b|\bsign(ed)? ?(in|out)\b|\blog ?(in|out)\b|\blogin\b|\baccount\b|\bprofile\b", 2),
        (r"\bsessions?\b|\bmy email\b|\blocked out\b|\bdevices?\b|\bmy (own )?details\b", 1.5),
    ),
    "help": (
        (r"\b(how|where) (do|can|should|would|could) (i|we)\b|\bhow to\b|\bwhere (is|are|can)\b", 2.5),
        (r"\bhomeroom\b|\bpage\b|\bbutton\b|\bscreen\b|\bmenu\b|\btab\b|\bsteps?\b", 1),
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
# What is asked of a domain. Several may hold ("how many students were absent": count and list).
AIMS: dict[str, str] = {
    "average": r"\baverages?\b|\bmean\b|\boverall\b|\bclass score\b",
    "lowest": r"\blowest\b|\bworst\b|\bleast\b|\bpoorest\b|\bbottom\b|\bweakest\b|\bstruggl\w*|\bconcern"
    r"|\b(missed|misses|absent|off|away|absences?) (the )?most\b|\bmost (absences|absent|days (off|missed))\b"
    r"|\bworse\b",
    "highest": r"\bhighest\b|\bbest\b|\btop\b|\bstrongest\b|\bmost (improved|present)\b|\bbetter\b",
    "count": r"\bhow many\b|\bnumber of\b|\bcount\b|\btotal\b|\bhow big\b|\bsize\b",
    "list": r"\blist\b|\bwho (is|are|was|were|has|have|had)\b|\bwhich (students|pupils|children|kids)\b"
    r"|\b(any|anyone|anybody) (absent|off|missing|away|late)\b|\ball (students|pupils)\b",
    "missing": r"\bmissing\b|\bnot (been |yet )?(graded|marked|entered)\b|\bungraded\b"
    r"|\bwithout (a )?grades?\b|\bnot (been )?(given|got|had) (a )?(grade|mark|score)"
    r"|\b(still )?to (enter|mark|grade)\b|\b(haven'?t|have not|not yet) (entered|marked|graded)\b",
    "teacher": r"\bwho teach\w*|\bteacher\b|\btaught by\b|\bwho takes\b|\bwho is (in charge|responsible)\b",
    "change": r"\b(chang\w*|updat\w*|edit\w*|correct\w*|fix\w*|amend\w*|new)\b.{0,40}\b(phone|number|mobile"
    r"|address|email|e-mail|name|surname|last name|contact|details)\b|\bmoved house\b"
    r"|\bnew (phone|number|address|email|surname)\b",
    "howto": r"\b(how|where) (do|can|should|would|could) (i|we)\b|\bhow to\b|\bsteps\b|\bwhat do i do\b"
    r"|\bcan i (pay|report|change|update|add|link|record|publish|mark)\b|\bright way\b|\bdo i need to (?!pay)"
    r"|\bshould i\b|\bam i (supposed|meant|allowed) to\b|\bwhat do i ((need|have) to )?do\b"
    r"|\bwalk me through\b|\bwho do i (tell|call|contact|inform|ring|ask)\b"
    r"|\bhow (can|do|should|would) (parents|families|they|guardians|students|teachers|staff) \w+",
    "overview": r"^\W*(help|hi|hello|hey|hiya|good (morning|afternoon|evening))( there| all| homeroom)?\W*$"
    r"|\bwhat (can|do) you (do|know)"
    r"|\bhow (can|do) you help\b|\bwhat (can|should|could) i ask\b|\bwho are you\b|\bwhat are you\b"
    r"|\bwhat (things )?can (i|you) (ask|help)\b|\bhelp me\W*$|\bwhat is this\b|\bhow does this work\b"
    r"|\bwhat (sort|kind|type)s? of (things|questions)\b|\bcan i ask\b|\bwhat are you for\b",
}
_N = r"([^\W\d_][\w'\-]*)"
NAME_SLOTS = (
    rf"\bhow(?:'s| is| are)\s+{_N}(?:\s+{_N})?\s+(?:doing|getting|coping|going)",
    rf"\b(?:is|was|did|does|has)\s+{_N}(?:\s+{_N})?\s+(?:at|in|absent|late|off|have|get|do|miss|been|doing"
    r"|ok|okay|alright|well|coping|struggling|behind|allowed|allergic|sick|ill)\b",
    rf"\b(?:about|for)\s+{_N}(?:\s+{_N})?\s*[?.!]*$",
    r"\b([^\W\d_][\w\-]*)'s\b",
)


@dataclass(frozen=True)
class Question:
    text: str
    words: tuple[str, ...]
    domain: DomainName | None
    period: Period | None
    threshold: int | None  # "absent three days" -> 3
    name_words: tuple[str, ...]  # words that may name a student (or admission numbers)
    also: tuple[DomainName, ...] = ()  # the other domains it touches, strongest first
    aims: frozenset[str] = frozenset()
    subjects: tuple[str, ...] = ()  # canonical school subjects it names ("maths")
    slotted: tuple[str, ...] = ()  # name words in a name's place, and admission numbers

    def mentions(self, *fragments: str) -> bool:
        lowered = self.text.lower()
        return any(fragment in lowered for fragment in fragments)

    def aims_at(self, *aims: str) -> bool:
        return any(aim in self.aims for aim in aims)

    @property
    def domains(self) -> tuple[DomainName, ...]:
        return (self.domain, *self.also) if self.domain else ()


# Someone else's account ("a teacher's password", "an account for her"): how to, not one's own.
OTHER_ACCOUNT = re.compile(
    r"\b(a|an|the|his|her|their|[a-z]+'s|new|teacher|parent|staff|user|student) (account|login|password)s?\b"
    r"|\b(account|login) for\b"
)


def _scores(lowered: str, page: PageName | None) -> dict[DomainName, float]:
    scores: dict[DomainName, float] = {}
    for domain, signals in SIGNALS.items():
        if score := sum(weight * len(re.findall(pattern, lowered)) for pattern, weight in signals):
            scores[domain] = score
    if page is not None and (page_domain := PAGE_DOMAINS.get(page)) in scores:
        scores[page_domain] += 0.5  # the page breaks ties
    if "account" in scores and OTHER_ACCOUNT.search(lowered) and not re.search(r"\bmy\b", lowered):
        scores["help"] = scores.get("help", 0) + scores.pop("account")  # someone else's account: help
    elif "account" in scores and "help" in scores:
        scores["account"] += scores.pop("help")  # "how do I change my password?" is about the account
    return scores


def _first(domain: DomainName, ranked: list[DomainName]) -> list[DomainName]:
    return [domain, *[d for d in ranked if d != domain]]


def classify(text: str, page: PageName | None) -> list[DomainName]:
    """The domains a question touches, strongest first; the page the caller is on breaks ties."""
    lowered = text.lower()
    scores = _scores(lowered, page)
    ranked = sorted(scores, key=lambda domain: -scores[domain])
    data = [d for d in ranked if d in STUDENT_DOMAINS and d not in ("guardians", "classes")]
    if re.search(r"\bcan i (see|view|access)\b", lowered) and len(data) >= 2:
        return _first("guardians", ranked)  # "can I see her fees and health?": what the link allows
    if (
        ranked[:1] == ["classes"]
        and "grades" in scores
        and aims_of(lowered) & {"average", "lowest", "highest"}
    ):
        return _first("grades", ranked)  # "the class average in maths"
    return ranked


def aims_of(lowered: str) -> frozenset[str]:
    return frozenset(aim for aim, pattern in AIMS.items() if re.search(pattern, lowered))


def _bare(token: str) -> str:
    return re.sub(r"'s?$|s'$", "", token.replace("\u2019", "'"))


def _capitalised(text: str) -> list[str]:
    """Capitalised words (a sentence's first word only when possessive), not acronyms ("INV")."""
    found = []
    for sentence in re.split(r"[.!?]\s+", HONORIFIC.sub(" ", text)):  # "Mr Smith" is a teacher
        tokens = re.findall(rf"{LETTERS}[\w'\-]*", sentence)
        for position, token in enumerate(tokens):
            bare = _bare(token)
            if bare.lower() in COMMON or len(bare) < 2 or (bare.isupper() and len(bare) <= 4):
                continue
            if bare[0].isupper() and (position > 0 or token != bare or bare.lower() not in KEYWORDS):
                found.append(bare)
    return found


def slotted_words(text: str) -> list[str]:
    """Words in a name's place ("how is ada doing", "ada's", "tell me about Ada") and admission
    numbers ("D-007", "d007"), never everyday words."""
    found = [re.sub(r"\s", "", match) for match in ADMISSION.findall(text) if any(c.isdigit() for c in match)]
    lowered = text.lower()
    for pattern in NAME_SLOTS:
        for match in re.finditer(pattern, lowered):
            found += [_bare(w) for w in match.groups() if w and _bare(w) not in COMMON and len(_bare(w)) > 1]
    return found


def _unique(words: list[str]) -> tuple[str, ...]:
    unique: dict[str, str] = {}
    for word in words:
        unique.setdefault(word.lower(), word)
    return tuple(unique.values())


def name_words(text: str) -> tuple[str, ...]:
    """Words that may name a student: capitalised ones, words in a name's place and admission
    numbers; never everyday words."""
    return _unique(_capitalised(text) + slotted_words(text))


# Instructions aimed at the assistant rather than questions: dropped before anything is read.
INJECTION = re.compile(
    r"\b(ignore|disregard|forget|override|bypass)\b[^.?!]*?\b(instructions?|rules|prompts?|above|guidelines"
    r"|restrictions?)\b"
    r"|\byou are (now|actually) (an? |the )?\w+( \w+)?|\b(reveal|show|print|repeat|tell me) (me )?(your|the) "
    r"(system )?(prompt|instructions|rules)\b|\bpretend (to be|you are|you're) (an? |the )?\w+( \w+)?"
    r"|\bact as (an? |the )?\w+( \w+)?"
    r"|\bsystem prompt\b|\bdeveloper mode\b|\bjailbreak\b",
    re.IGNORECASE,
)


def _word(match: re.Match[str]) -> str:
    word = match[0]
    if word.islower():
        return corrected(word)
    lowered = word.lower()
    return corrected(lowered).capitalize() if word[1:].islower() and lowered in SHORTHAND else word


def clean(text: str) -> str:
    """The question as the rules read it: instructions to the assistant dropped, shorthand
    ("whats", "teh") spelled out and one-letter slips in the words the rules look for corrected;
    capitalised words (names) are left as typed."""
    text = INJECTION.sub(" ", text.replace("\u2019", "'"))
    text = re.sub(r"\b[Nn]o\.?\s+of\b", "number of", text)  # "no. of pupils"
    return re.sub(r"(?<![\w\-])[A-Za-z]+(?![\w\-])", _word, text).strip(" ,.;:")


def _future(lowered: str) -> bool:
    """Whether a question looks ahead ("is there school on Friday?") rather than back."""
    return bool(
        re.search(
            r"\b(is there|will|next|coming|tomorrow|upcoming|open on|does school|do we have|be in)\b"
            r"|\bare (they|we|you) in\b|\bis (he|she) in\b",
            lowered,
        )
    )


def understand(original: str, page: PageName | None, today: date, terms: list[TermSpan]) -> Question:
    text = clean(original)
    domains = classify(text, page)
    lowered = text.lower()
    aims = aims_of(lowered)
    if "change" in aims and "account" not in domains:
        domains = ["account", *domains]  # "change my phone number" is about one's details, not phones
    if page is not None and not domains:
        domains = ["help"]  # nothing in the words: help with the page the caller is on
    words = tuple(_bare(w) for w in WORD.findall(lowered))
    return Question(
        text=text,
        words=words,
        domain=domains[0] if domains else None,
        also=tuple(domains[1:]),
        period=period_of(text, today, terms, future=_future(lowered) or domains[:1] == ["calendar"]),
        threshold=threshold_of(text),
        name_words=name_words(text),
        slotted=_unique(slotted_words(text)),
        aims=aims,
        subjects=tuple(subject_words(words)),
    )
