"""Password hashing: OWASP's argon2id setting by default; hashing bounded per process (a few
hashing threads, a prompt 503 with Retry-After when none is free in time, alike for known and
unknown accounts); a stored hash with other parameters upgraded once, at its next sign-in.

Nothing here times the hashing: `FakeHasher` stands in for argon2 where the tests need to hold a
hash in progress. The figures are measured outside the tests (the issue's report)."""

from __future__ import annotations

import threading
import time
from typing import Any, cast

import pytest
from argon2 import PasswordHasher
from flask import Flask
from sqlalchemy import select

from backend.auth.models import User
from backend.auth.passwords import Passwords, make_hasher
from backend.auth.service import PASSWORDS_EXTENSION
from backend.config import Settings, settings_from
from backend.core.errors import ServiceUnavailable
from backend.core.extensions import db
from tests.conftest import PASSWORD, Account, AppFactory, bearer, make_school, make_user


class FakeHasher:
    """argon2's interface; records how many calls run at once and on which threads. Calls wait
    while `gate` is closed."""

    def __init__(self, seconds: float = 0.0) -> None:
        self.seconds = seconds
        self.calls = self.running = self.most = 0
        self.threads: set[str] = set()
        self.gate = threading.Event()
        self.gate.set()
        self._lock = threading.Lock()

    def _work(self) -> None:
        with self._lock:
            self.calls += 1
            self.running += 1
            self.most = max(self.most, self.running)
            self.threads.add(threading.current_thread().name)
        self.gate.wait(10)
        time.sleep(self.seconds)
        with self._lock:
            self.running -= 1

    def hash(self, password: str) -> str:
        self._work()
        return f"$fake${password}"

    def verify(self, stored_hash: str, password: str) -> bool:
        self._work()
        return stored_hash == f"$fake${password}"

    def check_needs_rehash(self, stored_hash: str) -> bool:
        return False


def _passwords(fake: FakeHasher, concurrency: int, wait_seconds: float = 10.0) -> Passwords:
    return Passwords(cast(PasswordHasher, fake), concurrency=concurrency, wait_seconds=wait_seconds)


def _hold_every_thread(passwords: Passwords, fake: FakeHasher) -> list[threading.Thread]:
    """Occupy each hashing thread with a verification that waits for `fake.gate`."""
    fake.gate.clear()
    holders = [
        threading.Thread(target=passwords.verify, args=("$fake$x", "x")) for _ in range(passwords.concurrency)
    ]
    for holder in holders:
        holder.start()
    deadline = time.monotonic() + 10
    while fake.running < passwords.concurrency and time.monotonic() < deadline:
        time.sleep(0.01)
    assert fake.running == passwords.concurrency
    return holders


def test_defaults_are_owasps_argon2id_setting() -> None:
    fields = Settings.model_fields
    defaults = {
        name: fields[f"password_hash_{name}"].default for name in ("time_cost", "memory_kib", "parallelism")
    }
    assert defaults == {"time_cost": 2, "memory_kib": 19 * 1024, "parallelism": 1}
    assert (fields["password_hash_concurrency"].default, fields["password_hash_wait_seconds"].default) == (
        2,
        2.0,
    )
    stored = make_hasher(settings_from(APP_ENV="testing")).hash(PASSWORD)
    assert stored.startswith("$argon2id$v=19$m=19456,t=2,p=1$")


def test_at_most_concurrency_hashes_run_at_once_each_on_a_hashing_thread() -> None:
    fake = FakeHasher(seconds=0.02)
    passwords = _passwords(fake, concurrency=2)
    fake.threads.clear()  # the stand-in hash for unknown accounts, made at start
    results: list[bool] = []
    callers = [
        threading.Thread(target=lambda: results.append(passwords.verify("$fake$pw", "pw"))) for _ in range(12)
    ]
    for caller in callers:
        caller.start()
    for caller in callers:
        caller.join(timeout=30)
    assert results == [True] * 12
    assert fake.most == 2  # never more than the bound, however many callers
    assert fake.threads == {"argon2_0", "argon2_1"}  # only the hashing threads ever ran argon2


def test_no_turn_within_the_wait_is_a_prompt_503_and_its_work_never_runs() -> None:
    fake = FakeHasher()
    passwords = _passwords(fake, concurrency=1, wait_seconds=0.2)
    holders = _hold_every_thread(passwords, fake)
    calls = fake.calls
    for attempt in (lambda: passwords.verify("$fake$pw", "pw"), lambda: passwords.hash("pw")):
        with pytest.raises(ServiceUnavailable) as refused:
            attempt()
        assert refused.value.headers["Retry-After"] == "1"
    fake.gate.set()
    for holder in holders:
        holder.join(timeout=10)
    passwords.hash("after")  # queued behind the refused ones: they were dropped, not run late
    assert fake.calls == calls + 1


def test_a_hash_that_started_in_time_is_waited_for() -> None:
    passwords = _passwords(FakeHasher(seconds=0.3), concurrency=1, wait_seconds=0.1)
    assert passwords.verify("$fake$pw", "pw") is True  # longer than the wait, but it had its turn


def test_a_forked_worker_gets_hashing_threads_of_its_own(monkeypatch: pytest.MonkeyPatch) -> None:
    passwords = _passwords(FakeHasher(), concurrency=1)
    parents = passwords._threads()
    assert passwords._threads() is parents
    monkeypatch.setattr("backend.auth.passwords.os.getpid", lambda: -1)
    assert passwords._threads() is not parents


# --- through the API ------------------------------------------------------------------------------


def _post(client: Any, email: str, password: str) -> Any:
    return client.post("/api/auth/login", json={"email": email, "password": password})


def _stored_hash(app: Flask, account: Account) -> str:
    """Read in a session of its own: what was committed."""
    with app.app_context():
        stored: str = db.session.scalar(select(User.password_hash).where(User.id == account.user_id))
        return stored


def test_every_hashing_path_answers_503_with_retry_after_when_busy(make_app: AppFactory) -> None:
    app = make_app(PASSWORD_HASH_CONCURRENCY=1, PASSWORD_HASH_WAIT_SECONDS=0.2)
    account = make_user(app, make_school(app))
    client = app.test_client()
    token = _post(client, account.email, PASSWORD).get_json()["access_token"]
    passwords: Passwords = app.extensions[PASSWORDS_EXTENSION]
    gate, started = threading.Event(), threading.Event()
    passwords._threads().submit(lambda: (started.set(), gate.wait(10)))  # the one thread is busy
    assert started.wait(10)
    try:
        answers = [
            _post(client, account.email, PASSWORD),  # a known account
            _post(client, "nobody@example.org", PASSWORD),  # an unknown one: the same answer
            client.post(
                "/api/auth/password",
                json={"current_password": PASSWORD, "new_password": "another-good-passphrase-9"},
                headers=bearer(token),
            ),
        ]
    finally:
        gate.set()
    for response in answers:
        assert response.status_code == 503
        assert response.content_type == "application/problem+json"
        assert response.get_json()["code"] == "service_unavailable"
        assert response.headers["Retry-After"] == "1"
    with app.app_context():
        assert db.session.get_one(User, account.user_id).failed_login_count == 0  # not a failure
    assert _post(client, account.email, PASSWORD).status_code == 200  # free again: served


def test_known_and_unknown_accounts_verify_on_the_same_threads(
    client: Any, app: Flask, monkeypatch: pytest.MonkeyPatch
) -> None:
    account = make_user(app, make_school(app))
    seen: list[tuple[str | None, str]] = []
    original = Passwords._verify

    def recording(self: Passwords, stored_hash: str | None, password: str) -> bool:
        seen.append((stored_hash, threading.current_thread().name))
        return original(self, stored_hash, password)

    monkeypatch.setattr(Passwords, "_verify", recording)
    assert _post(client, account.email, "wrong-password-here").status_code == 401
    assert _post(client, "nobody@example.org", "wrong-password-here").status_code == 401
    assert [stored is None for stored, _ in seen] == [False, True]
    assert all(thread.startswith("argon2_") for _, thread in seen)


def test_a_hash_with_other_parameters_is_upgraded_once_and_committed(
    make_app: AppFactory, monkeypatch: pytest.MonkeyPatch
) -> None:
    old = make_app()  # the tests' cheapest parameters: m=1024, t=1
    account = make_user(old, make_school(old))
    original = _stored_hash(old, account)
    assert original.startswith("$argon2id$v=19$m=1024,t=1,p=1$")
    new = make_app(PASSWORD_HASH_TIME_COST=2, PASSWORD_HASH_MEMORY_KIB=2048)
    client = new.test_client()

    assert _post(client, account.email, "wrong-password-here").status_code == 401
    assert _stored_hash(old, account) == original  # only a correct password is rehashed

    assert _post(client, account.email, PASSWORD).status_code == 200
    upgraded = _stored_hash(old, account)  # read through another app: committed
    assert upgraded.startswith("$argon2id$v=19$m=2048,t=2,p=1$")

    hashed: list[str] = []
    real_hash = PasswordHasher.hash

    def counting(self: PasswordHasher, password: str, **kwargs: Any) -> str:
        hashed.append(password)
        return real_hash(self, password, **kwargs)

    monkeypatch.setattr(PasswordHasher, "hash", counting)
    assert _post(client, account.email, PASSWORD).status_code == 200
    assert hashed == []  # current parameters now: verified, not hashed again
    assert _stored_hash(old, account) == upgraded
