"""Password hashing (argon2id) and the password policy."""

from __future__ import annotations

import secrets
from functools import cache
from pathlib import Path

from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError

from backend.config import Settings

MIN_LENGTH, MAX_LENGTH = 12, 128
_COMMON_FILE = Path(__file__).with_name("common_passwords.txt")


@cache
def _common_passwords() -> frozenset[str]:
    lines = _COMMON_FILE.read_text().splitlines()
    return frozenset(line.strip().lower() for line in lines if line.strip() and not line.startswith("#"))


def policy_problem(password: str) -> str | None:
    """Why `password` is refused, or None when it is acceptable."""
    if len(password) < MIN_LENGTH:
        return f"Use at least {MIN_LENGTH} characters."
    if len(password) > MAX_LENGTH:
        return f"Use at most {MAX_LENGTH} characters."
    if password.lower() in _common_passwords():
        return "This password is too common; choose another."
    return None


def make_hasher(settings: Settings) -> PasswordHasher:
    return PasswordHasher(
        time_cost=settings.password_hash_time_cost,
        memory_cost=settings.password_hash_memory_kib,
        parallelism=settings.password_hash_parallelism,
    )


class Passwords:
    """Hash, verify, and tell when a stored hash uses parameters other than the current ones."""

    def __init__(self, hasher: PasswordHasher) -> None:
        self.hasher = hasher
        # Verified against when the account does not exist, so both paths cost the same. Made now,
        # at start (before Gunicorn forks), not by the first unknown email a worker sees.
        self._dummy_hash = hasher.hash(secrets.token_urlsafe(16))

    def hash(self, password: str) -> str:
        return self.hasher.hash(password)

    def verify(self, stored_hash: str | None, password: str) -> bool:
        """Whether `password` matches; an account without a usable hash (none yet: invited) costs
        the same work as a wrong password."""
        usable = stored_hash if stored_hash and stored_hash.startswith("$") else None
        try:
            return self.hasher.verify(usable or self._dummy_hash, password) and usable is not None
        except (VerificationError, InvalidHashError):
            return False

    def needs_rehash(self, stored_hash: str) -> bool:
        return self.hasher.check_needs_rehash(stored_hash)
