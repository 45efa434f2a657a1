"""The password rule, one place for every path that sets a password (NIST SP 800-63B, 5.1.1.2).

A password has 12 to 128 characters, any characters, no composition rules, and must not be easy to
guess. "Easy to guess" is zxcvbn's estimate (Dropbox's estimator; its frequency lists hold ~30,000
common passwords, English words, names and surnames, and it sees keyboard rows, sequences,
repeats, dates, years and l33t substitutions, alone or combined): a password is refused below
10^10 estimated guesses (zxcvbn's top score), so a common word with digits, a sequence, a year or
a symbol or two appended (`password123456`, `Summer2024!!`) is refused, and so is one built from
the person's own name, email address or school name, or the product's name, which zxcvbn is
given as words the attacker knows. The estimate reads the first ESTIMATED_CHARS characters: the
estimator slows down sharply on longer inputs, and what follows adds to the guesses anyway.

zxcvbn keeps the words it is given in a module-level dictionary for the duration of a call, so
calls take turns (a lock): the work is pure Python and holds the GIL either way.
"""

from __future__ import annotations

import re
import threading
import uuid
from collections.abc import Iterable, Sequence

from zxcvbn import zxcvbn

from backend.auth.models import User
from backend.core.errors import ValidationFailed
from backend.core.extensions import db
from backend.schools import School

MIN_LENGTH, MAX_LENGTH = 12, 128
MIN_GUESSES = 10**10  # zxcvbn's score 4
ESTIMATED_CHARS = 64
PRODUCT_WORDS = ("homeroom",)
ADVICE = (
    "Try three or four unrelated words with spaces or dashes between them; "
    "symbols, digits and capitals are not needed."
)
PERSONAL = 'It contains your name, your email address, your school\'s name or "Homeroom"; leave those out.'
GUESSABLE = (
    "It follows a pattern that is easy to guess, such as a common word with digits, a date or symbols added."
)
_WORD_SPLIT = re.compile(r"[^\w]+|_")
_JOINTS = ("", " ", ".", "-", "_")
_ESTIMATING = threading.Lock()


def words_about(email: str, full_name: str, school_names: Iterable[str] = ()) -> list[str]:
    """The words an attacker would try first for this person: their name, their email address, their
    school's name (and slug): word by word, and the words run together or joined by a space,
    dot, dash or underscore."""
    local, _, domain = email.lower().partition("@")
    found: list[str] = [email.lower(), *PRODUCT_WORDS]
    for text in (full_name, local, domain.split(".")[0], *school_names):
        parts = [part for part in _WORD_SPLIT.split(text.lower()) if part]
        found += [*parts, *(joint.join(parts) for joint in _JOINTS)]
    return sorted({word for word in found if len(word) >= 3})


def school_names(school_id: uuid.UUID | None) -> list[str]:
    """The name and slug of the school, for `words_about` (none for an operator)."""
    school = db.session.get(School, school_id) if school_id is not None else None
    return [] if school is None else [school.name, school.slug]


def words_about_user(user: User) -> list[str]:
    """`words_about` an existing user."""
    return words_about(user.email, user.full_name, school_names(user.school_id))


def policy_problem(password: str, about: Sequence[str] = ()) -> str | None:
    """Why `password` is refused, with what to do instead, or None when it is acceptable. `about`:
    the person's own words (`words_about`), which make a password weak."""
    if len(password) < MIN_LENGTH:
        return f"Use at least {MIN_LENGTH} characters. {ADVICE}"
    if len(password) > MAX_LENGTH:
        return f"Use at most {MAX_LENGTH} characters."
    with _ESTIMATING:
        estimate = zxcvbn(password[:ESTIMATED_CHARS], user_inputs=[*PRODUCT_WORDS, *about])
    if estimate["guesses"] >= MIN_GUESSES:
        return None
    personal = any(match.get("dictionary_name") == "user_inputs" for match in estimate["sequence"])
    feedback = estimate["feedback"]
    why = PERSONAL if personal else feedback["warning"] or GUESSABLE
    return " ".join(["Choose a password that is harder to guess.", why, *feedback["suggestions"], ADVICE])


def require_strong(password: str, about: Sequence[str], field: str = "body.password") -> None:
    """A 422 on `field` (type `password_policy`) when the rule refuses `password`."""
    problem = policy_problem(password, about)
    if problem:
        raise ValidationFailed.on(field, problem, "password_policy")
