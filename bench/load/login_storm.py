"""Issue 27's sign-in storm: N sign-ins sent at once to Homeroom on Gunicorn (2 workers x 4 threads,
gunicorn_config.py, production settings) with PostgreSQL and Redis, while /health and /ready are
polled and each worker's RSS is sampled every 0.2 s.

    .venv/bin/python bench/load/login_storm.py                      # one storm of 400 sign-ins
    .venv/bin/python bench/load/login_storm.py --users 100,200,400  # three storms, one after another

A scratch database gets the demo school plus one account per sign-in of the largest storm, each
with a password of its own hashed by the app's own hasher at the server's settings (the argon2id
defaults unless PASSWORD_HASH_* is set in the environment; never the tests' cheap parameters). Each
storm gets a fresh Redis and Gunicorn (the database is seeded once): a few warm-up sign-ins, then
N threads released together, each opening its own connection and sending one sign-in for its own
account, waiting at most --timeout seconds. Reported per storm: answers by status, sign-ins per
second (successes over the time from the first send to the last success), latency p50/p95/max,
whether every 503 carried Retry-After, the slowest probe during the storm, and each worker's RSS
fresh / before / peak / after. Written to bench/load/results/login-storm-<time>/figures.json.

Everything listens on 127.0.0.1; every process and the database are gone at the end, also on
Ctrl-C or SIGTERM. Exit status 1 when a sign-in got no answer within the time-out, or an answer
other than 200 or a 503/429 with Retry-After; else 0 (the speed targets are reported, not enforced).
"""

from __future__ import annotations

import argparse
import base64
import http.client
import itertools
import json
import os
import secrets
import signal
import sys
import threading
import time
from collections import Counter
from concurrent.futures import ThreadPoolExecutor
from contextlib import ExitStack
from dataclasses import asdict, dataclass, field
from datetime import datetime
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[2]
sys.path[0] = str(ROOT)  # instead of this folder: bench.* and backend import from the root

from bench.common import (  # noqa: E402
    DEFAULT_DATABASE,
    Server,
    free_port,
    homeroom_env,
    scratch_database,
    seed_demo_school,
    start_gunicorn,
)
from bench.load.chaos import say  # noqa: E402
from bench.load.monitor import Monitor  # noqa: E402
from bench.load.run import interrupt_on_signals  # noqa: E402
from bench.load.school import EMAIL_DOMAIN, _accounts  # noqa: E402
from bench.load.stack import RedisProcess  # noqa: E402

RESULTS = Path(__file__).with_name("results")
LOGIN = "/api/auth/login"
ROLES = ("parent", "parent", "parent", "teacher", "admin")  # the load suite's 6:2:2
TARGET_SIGN_INS_PER_S = 25.0
TARGET_ANSWER_S = 10.0
TARGET_PROBE_MS = 1000.0


@dataclass(frozen=True)
class Account:
    email: str
    password: str


@dataclass
class Answer:
    """One sign-in: when it was sent (time.time()), how long until its answer or the give-up."""

    email: str
    sent: float = 0.0
    ms: float = 0.0
    status: int = 0  # 0: no answer
    retry_after: str | None = None
    detail: str | None = None  # a problem's code or detail; the error when there was no answer

    @property
    def done(self) -> float:
        return self.sent + self.ms / 1000


class StormMonitor(Monitor):
    """The load suite's monitor, with its RSS sampled every `interval` too (its default: 1 s)."""

    def _ticks(self, interval: float) -> Any:
        return super()._ticks(self.interval)


# --- the school ---------------------------------------------------------------------------------------


@dataclass
class Seeded:
    accounts: list[Account]
    warmup: list[Account]  # the demo school's own logins
    argon2: dict[str, Any]
    seconds: float


def seed(database_url: str, count: int, settings: dict[str, str]) -> Seeded:
    """The demo school, then `count` accounts in it, each hashed on its own by the app's hasher."""
    from argon2 import extract_parameters
    from sqlalchemy import select

    from backend import create_app
    from backend.auth import User, password_hasher
    from backend.config import settings_from
    from backend.config.fields import SettingsFields
    from backend.core.db import dispose_pools
    from backend.core.extensions import db
    from backend.tenancy import platform_access

    started = time.perf_counter()
    demo = seed_demo_school(database_url, **settings)
    app = create_app(
        settings_from(
            APP_ENV="testing", DATABASE_URL=database_url, LOG_LEVEL="WARNING", LOG_FORMAT="json", **settings
        )
    )
    accounts = [Account(f"storm{n}@{EMAIL_DOMAIN}", secrets.token_urlsafe(12)) for n in range(count)]
    with app.app_context(), platform_access("bench seed"):
        passwords = password_hasher()  # what the server builds from the same settings
        with ThreadPoolExecutor(max_workers=os.cpu_count() or 2) as pool:  # argon2 releases the GIL
            hashes = list(pool.map(lambda account: passwords.hasher.hash(account.password), accounts))
        school_id = db.session.scalars(select(User.school_id).where(User.email == demo.admin)).one()
        assert school_id is not None
        for n, (account, password_hash) in enumerate(zip(accounts, hashes, strict=True)):
            db.session.add_all(_accounts(school_id, password_hash, ROLES[n % len(ROLES)], [account.email]))
        db.session.commit()
        stored = db.session.scalars(select(User.password_hash)).all()
        assert not any(passwords.needs_rehash(h) for h in stored), "a hash the server would redo"
    dispose_pools(app)
    parameters = extract_parameters(hashes[0])
    defaults = {
        name: SettingsFields.model_fields[f"password_hash_{name}"].default
        for name in ("time_cost", "memory_kib", "parallelism")
    }
    actual = {
        "time_cost": parameters.time_cost,
        "memory_kib": parameters.memory_cost,
        "parallelism": parameters.parallelism,
    }
    argon2 = {
        "type": parameters.type.name.lower(),
        **actual,
        "production_defaults": actual == defaults,
        "overrides": {k: v for k, v in settings.items() if k.startswith("PASSWORD_HASH_")},
    }
    warmup = [Account(email, demo.password) for email in (demo.admin, *demo.teachers, *demo.parents)]
    return Seeded(accounts, warmup, argon2, time.perf_counter() - started)


def count_rows(database_url: str, sql: str, **params: Any) -> int:
    from sqlalchemy import create_engine, text

    engine = create_engine(database_url)
    try:
        with engine.connect() as connection:
            return int(connection.execute(text(sql), params).scalar_one())
    finally:
        engine.dispose()


# --- the server -----------------------------------------------------------------------------------


def start_server(
    stack: ExitStack, database_url: str, results: Path, name: str, extra: dict[str, str]
) -> Server:
    """A redis-server and Gunicorn as the load suite starts them (bench/load/stack.py), without its
    fault proxy: nothing is cut here, and the proxy's threads would share this process's GIL with the
    storm's clients."""
    redis_process = RedisProcess(free_port())
    stack.callback(redis_process.kill)
    redis_process.start()
    env = homeroom_env(
        database_url,
        redis_process.url,
        free_port(),
        GUNICORN_WORKERS="2",
        GUNICORN_THREADS="4",
        ASSISTANT_RATE_LIMIT="1000000 per minute",
        **extra,
    )
    for variable in ("ASSISTANT_API_URL", "ASSISTANT_MODEL", "ASSISTANT_API_KEY", "PROMETHEUS_MULTIPROC_DIR"):
        env.pop(variable, None)
    server = start_gunicorn(name, "wsgi:application", env, results)
    stack.callback(server.stop, signal.SIGTERM, 40.0)
    return server


# --- the clients ----------------------------------------------------------------------------------


def sign_in(port: int, account: Account, timeout: float, answer: Answer) -> None:
    """One sign-in on a connection of its own; fills `answer`."""
    body = json.dumps({"email": account.email, "password": account.password}).encode()
    answer.sent = time.time()
    started = time.perf_counter()
    connection = http.client.HTTPConnection("127.0.0.1", port, timeout=timeout)
    try:
        connection.request(
            "POST", LOGIN, body=body, headers={"Content-Type": "application/json", "Connection": "close"}
        )
        response = connection.getresponse()
        raw = response.read()
        answer.status = response.status
        answer.retry_after = response.getheader("Retry-After")
        if response.status != 200 and raw.startswith(b"{"):
            problem = json.loads(raw)
            answer.detail = problem.get("code") or problem.get("detail")
    except (OSError, http.client.HTTPException, ValueError) as error:
        answer.status, answer.detail = 0, f"{type(error).__name__}: {error}"
    finally:
        connection.close()
        answer.ms = (time.perf_counter() - started) * 1000


def storm(port: int, accounts: list[Account], timeout: float) -> list[Answer]:
    """Every account's sign-in from a thread of its own, all released at once."""
    answers = [Answer(account.email) for account in accounts]
    barrier = threading.Barrier(len(accounts))

    def client(account: Account, answer: Answer) -> None:
        try:
            barrier.wait(timeout=60)
        except threading.BrokenBarrierError:
            answer.detail = "never sent"
            return
        sign_in(port, account, timeout, answer)

    threads = [
        threading.Thread(target=client, args=pair, daemon=True, name=f"storm-{n}")
        for n, pair in enumerate(zip(accounts, answers, strict=True))
    ]
    try:
        for thread in threads:
            thread.start()
        deadline = time.monotonic() + 60 + 2 * timeout + 10  # a socket time-out applies per read
        for thread in threads:
            thread.join(max(0.0, deadline - time.monotonic()))
    finally:
        barrier.abort()  # on an interruption, those still waiting leave
    return answers


def warm_up(port: int, accounts: list[Account], count: int, timeout: float) -> list[int]:
    """`count` sign-ins (the demo's logins, in turn), 8 at a time: each worker's hashing threads,
    with their memory, and its database pool exist before the storm."""
    chosen = list(itertools.islice(itertools.cycle(accounts), count))
    answers = [Answer(account.email) for account in chosen]
    with ThreadPoolExecutor(max_workers=8) as pool:
        for account, answer in zip(chosen, answers, strict=True):
            pool.submit(sign_in, port, account, timeout, answer)
    return [answer.status for answer in answers]


# --- the figures ----------------------------------------------------------------------------------


def percentile(values: list[float], share: float) -> float | None:
    """Nearest rank."""
    if not values:
        return None
    ordered = sorted(values)
    return round(ordered[max(0, min(len(ordered) - 1, round(share * len(ordered) + 0.5) - 1))], 1)


def spread(values: list[float]) -> dict[str, Any]:
    return {
        "count": len(values),
        "p50": percentile(values, 0.50),
        "p95": percentile(values, 0.95),
        "max": round(max(values), 1) if values else None,
    }


def acceptable(answer: Answer, timeout: float) -> bool:
    """A success, or load shed the way issue 27 asks: a 503 (or 429) with Retry-After, in time."""
    if answer.status == 0 or answer.ms > timeout * 1000:
        return False
    return answer.status == 200 or (answer.status in (429, 503) and bool(answer.retry_after))


def storm_figures(
    answers: list[Answer], monitor: StormMonitor, marks: dict[str, float], timeout: float, bound_mib: float
) -> dict[str, Any]:
    sent = [a for a in answers if a.sent]
    if not sent:
        raise RuntimeError("no sign-in was sent")
    first = min(a.sent for a in sent)
    last = max(a.done for a in sent)
    ok = [a for a in sent if a.status == 200]
    last_ok = max((a.done for a in ok), default=first)
    answered = [a for a in sent if a.status]
    refused = [a for a in sent if a.status == 503]
    slowest = max(sent, key=lambda a: a.ms)
    unexpected = [a for a in answers if not acceptable(a, timeout)]

    probes = {}
    for path, samples in monitor.probes.items():
        during = [(status, ms) for start, status, ms in samples if start < last and start + ms / 1000 > first]
        probes[path] = {
            **spread([ms for _, ms in during]),
            "statuses": dict(Counter(str(status) for status, _ in during)),
            "max_ms_whole_run": round(max((ms for _, _, ms in samples), default=0.0), 1),
        }

    rss: dict[str, dict[str, float | None]] = {}
    for pid in sorted({pid for _, pid, _ in monitor.rss}):
        mine = [(t, mib) for t, p, mib in monitor.rss if p == pid]

        def last_before(moment: float, mine: list[tuple[float, float]] = mine) -> float | None:
            earlier = [mib for t, mib in mine if t <= moment]
            return round(earlier[-1], 1) if earlier else None

        during_mib = [mib for t, mib in mine if first <= t <= last]
        rss[str(pid)] = {
            "fresh": round(mine[0][1], 1),
            "before": last_before(first),
            "peak": round(max(during_mib), 1) if during_mib else None,
            "after": round(mine[-1][1], 1),
            "max_whole_run": round(max(mib for _, mib in mine), 1),
        }
    growth = [
        w["peak"] - w["before"] for w in rss.values() if w["peak"] is not None and w["before"] is not None
    ]
    rate = len(ok) / (last_ok - first) if ok and last_ok > first else 0.0
    probe_max = max((p["max"] or 0.0) for p in probes.values()) if probes else None
    return {
        "users": len(answers),
        "statuses": dict(sorted(Counter(str(a.status or "no answer") for a in answers).items())),
        "successes": len(ok),
        "refused_503": len(refused),
        "every_503_had_retry_after": all(a.retry_after for a in refused),
        "retry_after_values": dict(Counter(a.retry_after or "-" for a in refused)),
        "refusal_kinds": dict(Counter(a.detail or "-" for a in sent if a.status not in (0, 200))),
        "no_answer": sum(1 for a in answers if a.status == 0 or a.ms > timeout * 1000),
        "unexpected": len(unexpected),
        "unexpected_examples": [asdict(a) for a in unexpected[:10]],
        "send_spread_ms": round((max(a.sent for a in sent) - first) * 1000, 1),
        "storm_seconds": round(last - first, 2),
        "sign_ins_per_s": round(rate, 1),
        "seconds_to_last_success": round(last_ok - first, 2),
        "latency_ms": {
            "answers": spread([a.ms for a in answered]),
            "200": spread([a.ms for a in ok]),
            "503": spread([a.ms for a in refused]),
        },
        "slowest": {"email": slowest.email, "status": slowest.status, "ms": round(slowest.ms, 1)},
        "answered_within_10s": sum(1 for a in answered if a.ms <= TARGET_ANSWER_S * 1000),
        "probes": probes,
        "rss_mib": rss,
        "hashing_bound_mib": bound_mib,
        "targets": {
            "sign_ins_per_s >= 25": rate >= TARGET_SIGN_INS_PER_S,
            "every sign-in answered (200 or 503 + Retry-After) within 10 s": not unexpected
            and all(a.ms <= TARGET_ANSWER_S * 1000 for a in answers),
            "probes within 1 s": probe_max is not None and probe_max <= TARGET_PROBE_MS,
            "worker RSS growth within the hashing bound": bool(growth) and max(growth) <= bound_mib,
        },
        "marks": {name: round(moment - first, 2) for name, moment in marks.items()},
    }


def print_table(storms: list[dict[str, Any]]) -> None:
    print(
        f"\n{'users':>5} {'200':>5} {'503':>5} {'other':>5} {'none':>5} {'in/s':>6} {'p50':>7} {'p95':>7}"
        f" {'max ms':>7} {'<=10s':>5} {'RA':>3} {'/health':>8} {'/ready':>8}  RSS MiB before/peak/after"
    )
    for s in storms:
        lat = s["latency_ms"]["answers"]
        other = s["users"] - s["successes"] - s["refused_503"] - s["no_answer"]
        rss = ", ".join(f"{w['before']}/{w['peak']}/{w['after']}" for w in s["rss_mib"].values())
        health, ready = (s["probes"][p]["max"] for p in ("/health", "/ready"))
        print(
            f"{s['users']:>5} {s['successes']:>5} {s['refused_503']:>5} {other:>5} {s['no_answer']:>5}"
            f" {s['sign_ins_per_s']:>6} {lat['p50']!s:>7} {lat['p95']!s:>7} {lat['max']!s:>7}"
            f" {s['answered_within_10s']:>5} {'yes' if s['every_503_had_retry_after'] else 'NO':>3}"
            f" {health!s:>8} {ready!s:>8}  {rss}"
        )
    for s in storms:
        missed = [name for name, met in s["targets"].items() if not met]
        print(f"  {s['users']}: targets {'all met' if not missed else 'missed: ' + '; '.join(missed)}")
        for example in s["unexpected_examples"][:5]:
            print(f"    unexpected: {example}")


# --- the run --------------------------------------------------------------------------------------


@dataclass
class Options:
    users: list[int]
    timeout: float
    warmup: int
    settle: float
    database: str
    out: Path
    command: list[str] = field(default_factory=lambda: list(sys.argv))


def parse(argv: list[str] | None) -> Options:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--users", default="400", help="sign-ins per storm, comma-separated (default 400)")
    parser.add_argument("--timeout", type=float, default=30.0, help="seconds a client waits for its answer")
    parser.add_argument("--warmup", type=int, default=16, help="sign-ins before each storm (8 at a time)")
    parser.add_argument("--settle", type=float, default=3.0, help="seconds sampled after the last answer")
    parser.add_argument(
        "--database",
        default=os.environ.get("BENCH_DATABASE_URL", DEFAULT_DATABASE),
        help="a PostgreSQL server URL; a scratch database is created on it and dropped after",
    )
    parser.add_argument(
        "--out", type=Path, help="results folder (default bench/load/results/login-storm-<time>)"
    )
    args = parser.parse_args(argv)
    users = [int(n) for n in args.users.split(",") if n.strip()]
    if not users or min(users) < 1:
        parser.error("--users: one or more positive counts")
    out = args.out or RESULTS / f"login-storm-{datetime.now().strftime('%Y%m%d-%H%M%S')}"
    return Options(users, args.timeout, args.warmup, args.settle, args.database, out)


def one_storm(
    options: Options, database: str, seeded: Seeded, users: int, shared: dict[str, str], bound_mib: float
) -> dict[str, Any]:
    with ExitStack() as stack:
        server = start_server(stack, database, options.out, f"gunicorn-{users}", shared)
        monitor = StormMonitor(
            server.port, server.process.pid, max_seconds=2 * options.timeout + 180, interval=0.2
        )
        monitor.start()
        stack.callback(monitor.stop)
        marks = {"started": time.time()}
        time.sleep(1.0)
        if options.warmup:
            statuses = warm_up(server.port, seeded.warmup, options.warmup, options.timeout)
            say(f"warm-up: {dict(Counter(statuses))}")
        time.sleep(2.0)
        sessions_before = count_rows(database, "SELECT count(*) FROM auth_sessions")
        say(f"storm: {users} sign-ins at once on {server.url} (workers {[w.pid for w in server.workers()]})")
        answers = storm(server.port, seeded.accounts[:users], options.timeout)
        time.sleep(options.settle)
        monitor.stop()
        server.stop(signal.SIGTERM, 40.0)  # nothing still committing when the sessions are counted
        figures = storm_figures(answers, monitor, marks, options.timeout, bound_mib)
        figures["sessions_opened"] = (
            count_rows(database, "SELECT count(*) FROM auth_sessions") - sessions_before
        )
        figures["answers"] = [asdict(a) for a in answers]
        figures["monitor"] = monitor.as_json()
        say(
            f"storm {users}: {figures['statuses']}, {figures['sign_ins_per_s']} sign-ins/s,"
            f" sessions opened {figures['sessions_opened']}"
        )
        return figures


def run(options: Options, stack: ExitStack) -> int:
    database = stack.enter_context(scratch_database(options.database))
    shared = {"ENCRYPTION_KEY": base64.urlsafe_b64encode(os.urandom(32)).decode()}  # seed and server
    # The server reads PASSWORD_HASH_* from this environment (bench.common.homeroom_env): the seed too.
    shared |= {k: v for k, v in os.environ.items() if k.startswith("PASSWORD_HASH_")}
    say(f"seeding {max(options.users)} accounts in {database.rsplit('/', 1)[-1]}")
    seeded = seed(database, max(options.users), shared)
    say(f"seeded in {seeded.seconds:.1f} s; argon2 {seeded.argon2}")
    concurrency = int(shared.get("PASSWORD_HASH_CONCURRENCY", 2))
    bound_mib = concurrency * seeded.argon2["memory_kib"] / 1024
    storms = [one_storm(options, database, seeded, users, shared, bound_mib) for users in options.users]
    argon2 = seeded.argon2
    rehashed = count_rows(  # a sign-in that found other parameters would have stored a new hash
        database,
        "SELECT count(*) FROM users WHERE password_hash NOT LIKE :prefix",
        prefix=f"$argon2id$v=19$m={argon2['memory_kib']},t={argon2['time_cost']},p={argon2['parallelism']}$%",
    )
    summary: dict[str, Any] = {
        "title": f"Homeroom sign-in storms of {options.users}",
        "command": options.command,
        "machine": {"cpus": os.cpu_count(), "load_average_at_end": os.getloadavg()},
        "server": "Gunicorn 2 workers x 4 threads, gunicorn_config.py, PostgreSQL + Redis, a fresh "
        "Redis and Gunicorn per storm, one database",
        "argon2": seeded.argon2,
        "hashes_with_other_parameters_after": rehashed,
        "timeout_s": options.timeout,
        "storms": [{k: v for k, v in s.items() if k not in ("answers", "monitor")} for s in storms],
    }
    (options.out / "figures.json").write_text(json.dumps(summary, indent=1))
    (options.out / "samples.json").write_text(
        json.dumps([{"users": s["users"], "answers": s["answers"], "monitor": s["monitor"]} for s in storms])
    )
    print_table(summary["storms"])
    failed = sum(s["unexpected"] for s in storms)
    print(f"\n{'FAILED' if failed else 'PASSED'} ({failed} sign-ins unanswered or answered otherwise);"
          f" figures in {options.out}")  # fmt: skip
    return 1 if failed else 0


def main(argv: list[str] | None = None) -> int:
    options = parse(argv)
    options.out.mkdir(parents=True, exist_ok=True)
    interrupt_on_signals()
    try:
        with ExitStack() as stack:
            return run(options, stack)
    except KeyboardInterrupt:
        say("interrupted: every process stopped, the scratch database dropped")
        return 130


if __name__ == "__main__":
    sys.exit(main())
