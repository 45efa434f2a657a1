"""Words the assistant knows: school subjects and their synonyms, and the everyday words that are
never a student's name (so "more" is not taken for a student called Moore)."""

from __future__ import annotations

import re

from rapidfuzz.distance import OSA

# Canonical subject -> the words people use for it (the canonical name first).
SUBJECTS: dict[str, tuple[str, ...]] = {
    "maths": ("maths", "math", "mathematics", "numeracy", "arithmetic", "algebra", "geometry"),
    "english": ("english", "literacy", "reading", "writing", "spelling", "grammar", "phonics"),
    "science": ("science", "sciences"),
    "biology": ("biology",),
    "chemistry": ("chemistry",),
    "physics": ("physics",),
    "history": ("history",),
    "geography": ("geography",),
    "french": ("french",),
    "spanish": ("spanish",),
    "german": ("german",),
    "art": ("art", "drawing", "painting"),
    "music": ("music",),
    "pe": ("pe", "sport", "sports", "gym", "games"),
    "computing": ("computing", "ict", "coding", "programming"),
    "drama": ("drama",),
    "religious education": ("re", "religion", "religious"),
}
SYNONYM = {word: subject for subject, words in SUBJECTS.items() for word in words}
WEEKDAYS = ("monday", "tuesday", "wednesday", "thursday", "friday", "saturday", "sunday")
MONTHS = (
    *("january", "february", "march", "april", "may", "june", "july"),
    *("august", "september", "october", "november", "december"),
)
# Everyday words: never looked up as a student's name, never corrected towards one.
EVERYDAY = """
    grapes glasses coping coming passes glances grace places traces classy graded grated course
    courses mr mrs ms miss mx dr sir madam class's
    i'm i've i'll i'd we're they're it's that's what's who's how's there's let's can't won't don't
    didn't isn't wasn't doesn't haven't hasn't aren't couldn't shouldn't wouldn't you're he's she's
    a about above absence absences absent account achieve address after afternoon again against age
    ago all allergic allergies allergy alright also always am an and another any anyone anything
    are around as ask assessment assessments at attend attendance attended attending average away
    back bad balance be been before behind being best better between bill bills both boy breakfast
    bring but by call can cannot card change check child children class classes club come contact
    contacts could course current date dates day days dear details did do does doing done down due
    each early email end english enough enrol enrolled ever every exam exams excused fee fees few
    find first for found free friday from full gate get getting girl give go going good got grade
    graded grades great guardian guardians had half has have he health hello help her here hers hey
    hi him his holiday holidays home homework hour hours how i if ill in info information invoice
    invoices is it its just kid kids know last late later latest learn left less let like list
    little long look lot lots low lowest lunch made make many mark marked marks maths may me mean
    medical medication mine miss missed missing month more morning most much mum dad must my name
    names need new next no none not note now number of off office ok okay on once one only or other
    our out over overall owe owed paid parent parents pass past pay payment payments per percent
    phone please point policy poor present progress put quick rate read really record register
    remind report result results right said same saturday say school score scores see send set she
    should show sick since so some someone something son daughter soon spring still student
    students subject subjects summer sunday take talk teach teacher teachers teaches tell term
    terms test tests than thank thanks that the their them then there these they thing think this
    those thursday through time to today tomorrow too total tuesday up uniform us use very want was
    we wednesday week weekend weeks well were what when where which while who whole why will with
    without word work would year years yes yesterday yet you your autumn winter trip trips today's
    child's son's daughter's kid's teacher's school's whats hows whos wheres doin goin gonna wanna
    pls plz thx cheers evening things stuff hard easy fine sure quite bit lately recently currently
    usually tonight everything everyone nobody somebody kind hurt sorry wondering wonder might
    shall quickly able needs homeroom pupil pupils open closed shut happen happening coming
"""
COMMON = frozenset(EVERYDAY.split()) | frozenset(WEEKDAYS) | frozenset(MONTHS) | frozenset(SYNONYM)


def subject_words(words: tuple[str, ...]) -> list[str]:
    """The canonical subjects a question names, in order ("mathematics" and "math" are maths),
    with one letter of slack for longer words ("englsh")."""
    found: list[str] = []
    for word in words:
        subject = SYNONYM.get(word) or _near_subject(word)
        if subject and subject not in found:
            found.append(subject)
    return found


def _near_subject(word: str) -> str | None:
    if len(word) < 6 or not word.isalpha() or word in COMMON:
        return None
    for synonym, subject in SYNONYM.items():
        if len(synonym) >= 6 and OSA.distance(word, synonym, score_cutoff=1) <= 1:
            return subject
    return None


def canonical_subject(name: str) -> str:
    """A class's subject as the canonical word ("Mathematics" -> "maths"); unknown ones lower-cased."""
    lowered = name.lower().strip()
    for word in re.findall(r"[a-z]+", lowered):
        if word in SYNONYM:
            return SYNONYM[word]
    return lowered


# Words people type without the apostrophe, and common slips, as the rules read them.
SHORTHAND = {
    "whats": "what is",
    "whens": "when is",
    "wheres": "where is",
    "hows": "how is",
    "whos": "who is",
    "isnt": "is not",
    "wasnt": "was not",
    "didnt": "did not",
    "doesnt": "does not",
    "dont": "do not",
    "cant": "cannot",
    "wont": "will not",
    "hasnt": "has not",
    "havent": "have not",
    "im": "i am",
    "ive": "i have",
    "teh": "the",
    "u": "you",
    "ur": "your",
    "pls": "please",
    "yr": "year",
    "tmrw": "tomorrow",
    "tmr": "tomorrow",
    "2day": "today",
    "hw": "how",
    "wk": "week",
    "wks": "weeks",
    "avg": "average",
    "yday": "yesterday",
    "yest": "yesterday",
    "n": "and",
    "thru": "through",
    "wat": "what",
    "wht": "what",
    "doin": "doing",
    "goin": "going",
    "r": "are",
    "abt": "about",
    "bc": "because",
    "tho": "though",
}
# The words the rules look for: a longer word one letter away from one is read as it.
KEYWORD_TEXT = """
    allergies allergy allergic attendance absent absence absences balance invoice invoices payment
    payments grades average averages teacher teachers uniform register assessment assessments
    medication medicine health guardians guardian holiday holidays tomorrow yesterday monday
    tuesday wednesday thursday friday saturday sunday january february september october november
    december results progress english science history geography timetable enrolled enrolment
    admission password outstanding overdue percentage asthma inhaler classes students attended
    missing lowest highest number policy reported excused behind
"""
KEYWORDS = tuple(KEYWORD_TEXT.split())
# Words the knowledge base is searched with as well ("pick up" is the end of the school day).
EXPANSIONS = {
    "pick": "ends",
    "collect": "ends",
    "drop": "starts gates",
    "online": "card transfer paying",
    "pay": "paying",
    "sick": "absence",
    "ill": "absence",
    "unwell": "absence",
    "poorly": "absence",
    "temperature": "absence",
    "antibiotics": "medication",
    "medicine": "medication",
    "tablets": "medication",
    "inhaler": "medication",
    "mobile": "phones",
    "phone": "phones",
    "wear": "uniform",
    "clothes": "uniform",
    "start": "starts",
    "finish": "ends",
    "paid": "payment",
    "cash": "payment",
}


def corrected(word: str) -> str:
    """A lower-case word as the rules read it: shorthand spelled out, a slip corrected."""
    if word in SHORTHAND:
        return SHORTHAND[word]
    if len(word) < 5 or word in COMMON or word in KEYWORDS or not word.isalpha():
        return word
    allowed = 2 if len(word) >= 9 else 1
    for keyword in KEYWORDS:
        if abs(len(keyword) - len(word)) <= allowed and OSA.distance(word, keyword) <= allowed:
            return keyword
    return word


def expanded(text: str) -> str:
    """A question with the words the knowledge base uses for its own words put first (a search
    reads a bounded number of words)."""
    words = re.findall(r"[a-z]+", text.lower())
    return " ".join([*(EXPANSIONS[w] for w in words if w in EXPANSIONS), text])
