"""Password hashing (argon2id), bounded per process. The password rule is password_policy.py.

Every hash and every verification (sign-in, the stand-in for an unknown account, password changes,
resets, invitations, new users) runs on one of PASSWORD_HASH_CONCURRENCY hashing threads of its
process, in arrival order. However many sign-ins arrive at once, a worker holds at most that many
PASSWORD_HASH_MEMORY_KIB blocks, and only those threads' memory arenas ever keep one (a request
thread hashing itself would leave a block behind in each of its arenas: GUNICORN_THREADS of them).
A request whose turn does not come within PASSWORD_HASH_WAIT_SECONDS is answered at once with a
503 and Retry-After, its work dropped, rather than left waiting in a queue it cannot leave. The
turn is taken the same way whether or not the account exists, so the wait reveals nothing.
"""

from __future__ import annotations

import math
import os
import secrets
import threading
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from concurrent.futures import TimeoutError as FutureTimeout
from typing import TypeVar

import structlog
from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError

from backend.config import Settings
from backend.core.errors import ServiceUnavailable

log = structlog.get_logger("homeroom.auth")
T = TypeVar("T")
BUSY = "Too many sign-ins are being checked at once; try again in a moment."


def make_hasher(settings: Settings) -> PasswordHasher:
    return PasswordHasher(
        time_cost=settings.password_hash_time_cost,
        memory_cost=settings.password_hash_memory_kib,
        parallelism=settings.password_hash_parallelism,
    )


class Passwords:
    """Hash, verify, and upgrade stored hashes made with other parameters, a few at a time."""

    def __init__(self, hasher: PasswordHasher, *, concurrency: int = 2, wait_seconds: float = 2.0) -> None:
        self.hasher = hasher
        self.concurrency = concurrency
        self.wait_seconds = wait_seconds
        self.retry_after = max(1, math.ceil(wait_seconds))
        self._pool: tuple[int, ThreadPoolExecutor] | None = None
        self._pool_lock = threading.Lock()
        # Verified against when the account does not exist, so both paths cost the same. Made now,
        # at start (before Gunicorn forks), not by the first unknown email a worker sees.
        self._dummy_hash = hasher.hash(secrets.token_urlsafe(16))

    @classmethod
    def from_settings(cls, settings: Settings) -> Passwords:
        return cls(
            make_hasher(settings),
            concurrency=settings.password_hash_concurrency,
            wait_seconds=settings.password_hash_wait_seconds,
        )

    def _threads(self) -> ThreadPoolExecutor:
        """The process's hashing threads, made on first use (in a forked worker: its own). Only
        these run argon2, so only their memory arenas ever hold (and keep, for reuse) its blocks."""
        with self._pool_lock:
            if self._pool is None or self._pool[0] != os.getpid():
                pool = ThreadPoolExecutor(max_workers=self.concurrency, thread_name_prefix="argon2")
                self._pool = (os.getpid(), pool)
            return self._pool[1]

    def _run(self, work: Callable[[], T]) -> T:
        """`work` on a hashing thread; a 503 when none could start it within the wait."""
        job = self._threads().submit(work)
        try:
            return job.result(timeout=self.wait_seconds)
        except FutureTimeout:
            if job.cancel():  # still queued: it never runs
                log.warning("password_hashing_busy", slots=self.concurrency, waited_seconds=self.wait_seconds)
                raise ServiceUnavailable(BUSY, retry_after=self.retry_after) from None
            return job.result()  # started in time: it ends within one hash

    def hash(self, password: str) -> str:
        return self._run(lambda: self.hasher.hash(password))

    def verify(self, stored_hash: str | None, password: str) -> bool:
        """Whether `password` matches; an account without a usable hash (none yet: invited) costs
        the same work as a wrong password."""
        return self._run(lambda: self._verify(stored_hash, password))

    def verify_and_update(self, stored_hash: str | None, password: str) -> tuple[bool, str | None]:
        """Whether `password` matches, and, when it does but `stored_hash` was made with other
        parameters, its hash with the current ones (to store). One turn on a hashing thread."""

        def work() -> tuple[bool, str | None]:
            valid = self._verify(stored_hash, password)
            if valid and stored_hash is not None and self.needs_rehash(stored_hash):
                return True, self.hasher.hash(password)
            return valid, None

        return self._run(work)

    def _verify(self, stored_hash: str | None, password: str) -> bool:
        usable = stored_hash if stored_hash and stored_hash.startswith("$") else None
        try:
            return self.hasher.verify(usable or self._dummy_hash, password) and usable is not None
        except (VerificationError, InvalidHashError):
            return False

    def needs_rehash(self, stored_hash: str) -> bool:
        """Whether `stored_hash` was made with parameters other than the current ones (no hashing)."""
        try:
            return self.hasher.check_needs_rehash(stored_hash)
        except InvalidHashError:
            return False
