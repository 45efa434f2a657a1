"""Audit search on a million events (PostgreSQL): how long each filter takes through the real app.

    .venv/bin/python bench/audit_search.py [--events 1000000] [--repeat 20]

Creates a database of its own next to BENCH_DATABASE_URL's (default: the local test server),
migrates it, inserts the events server-side, times GET /api/audit-events with each filter as a
signed-in admin (bounded repeats, 127.0.0.1 only), prints median and p95, and drops the database.
"""

from __future__ import annotations

import argparse
import os
import statistics
import sys
import time
import uuid
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from flask_migrate import upgrade
from sqlalchemy import create_engine, text

from backend import create_app
from backend.auth.schemas import UserCreateIn
from backend.auth.user_service import create_school, create_user
from backend.config import normalise_database_url, settings_from
from backend.core.db import dispose_pools
from backend.core.extensions import db
from backend.tenancy import Role, platform_access

ACTIONS = [
    "student.update",
    "attendance.record",
    "grade.record",
    "auth.login",
    "guardian.link",
    "attendance.correct",
    "user.update",
    "assessment.publish",
]
FILL = """
INSERT INTO audit_events (id, chain_id, seq, occurred_at, school_id, actor_id, actor_role, action,
                          resource_type, resource_id, request_id, client_ip, user_agent, changes,
                          prev_hash, hash)
SELECT gen_random_uuid(), :school, :offset + g, now() - make_interval(secs => g * 3), :school,
       (CAST(:actors AS uuid[]))[1 + g % 40], 'teacher', (CAST(:actions AS text[]))[1 + g % 8],
       'student', (g % 5000)::text, md5(g::text), '127.0.0.1', 'bench', NULL,
       repeat('0', 64), repeat('0', 64)
FROM generate_series(1, :n) AS g
"""


def _days_ago(days: int) -> str:
    return (datetime.now(UTC) - timedelta(days=days)).isoformat().replace("+00:00", "Z")


def timed(label: str, call: Callable[[], Any], repeat: int) -> tuple[str, float, float]:
    call()  # warm caches
    samples = []
    for _ in range(repeat):
        started = time.perf_counter()
        response = call()
        samples.append((time.perf_counter() - started) * 1000)
        assert response.status_code == 200, response.get_json()
    samples.sort()
    return label, statistics.median(samples), samples[int(len(samples) * 0.95) - 1]


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--events", type=int, default=1_000_000)
    parser.add_argument("--repeat", type=int, default=20)
    args = parser.parse_args()
    server = normalise_database_url(
        os.environ.get("BENCH_DATABASE_URL", "postgresql://postgres@127.0.0.1:5432/test")
    )
    name = f"homeroom_bench_{uuid.uuid4().hex[:8]}"
    admin_engine = create_engine(server, isolation_level="AUTOCOMMIT")
    with admin_engine.connect() as connection:
        connection.execute(text(f'CREATE DATABASE "{name}"'))
    url = server.set(database=name).render_as_string(hide_password=False)
    app = create_app(
        settings_from(
            APP_ENV="testing",
            DATABASE_URL=url,
            LOG_LEVEL="WARNING",
            LOG_FORMAT="json",
            RATE_LIMIT_DEFAULT="100000 per minute",
            PASSWORD_HASH_MEMORY_KIB=1024,
            PASSWORD_HASH_TIME_COST=1,
            PASSWORD_HASH_PARALLELISM=1,
        )
    )
    try:
        with app.app_context(), platform_access("bench audit search"):
            upgrade()
            school = create_school("Bench", "bench", "UTC", "GBP")
            other = create_school("Other", "other", "UTC", "GBP")
            password = "bench-password-" + uuid.uuid4().hex
            admin = create_user(
                school.id,
                UserCreateIn(
                    email="admin@bench.example.org", full_name="A", role=Role.ADMIN, password=password
                ),
            )
            admin_email, school_id = admin.email, school.id
            actors = [str(uuid.uuid4()) for _ in range(40)]
            params = {"actors": actors, "actions": ACTIONS}
            print(
                f"Inserting {args.events:,} events (+{args.events // 5:,} for another school)...", flush=True
            )
            started = time.perf_counter()
            batch = 250_000
            for offset in range(0, args.events, batch):
                db.session.execute(
                    text(FILL),
                    {
                        **params,
                        "school": school.id,
                        "offset": offset + 100,
                        "n": min(batch, args.events - offset),
                    },
                )
                db.session.commit()
                print(f"  {min(offset + batch, args.events):,} / {args.events:,}", flush=True)
            db.session.execute(
                text(FILL), {**params, "school": other.id, "offset": 100, "n": args.events // 5}
            )
            db.session.commit()
            db.session.execute(text("ANALYZE audit_events"))
            db.session.commit()
            print(f"Inserted in {time.perf_counter() - started:.1f} s", flush=True)
        client = app.test_client()
        login = client.post("/api/auth/login", json={"email": admin_email, "password": password})
        headers = {"Authorization": f"Bearer {login.get_json()['access_token']}"}
        deep = client.get("/api/audit-events", query_string={"limit": 200}, headers=headers)
        cursor = deep.get_json()["next_cursor"]
        cases = {
            "newest 50 (no filter)": {},
            "by actor": {"actor_id": actors[7]},
            "by action": {"action": "grade.record"},
            "by action prefix": {"action": "attendance."},
            "by resource": {"resource_type": "student", "resource_id": "4242"},
            "by date range (1 day)": {"from": _days_ago(10), "to": _days_ago(9)},
            "next page (cursor)": {"cursor": cursor},
            "limit 200": {"limit": 200},
        }
        rows = [
            timed(
                label,
                lambda q=query: client.get("/api/audit-events", query_string=q, headers=headers),
                args.repeat,
            )
            for label, query in cases.items()
        ]
        print(f"\nGET /api/audit-events over {args.events:,} events of one school ({args.repeat} runs each):")
        print(f"{'query':28} {'median ms':>10} {'p95 ms':>8}")
        for label, median, p95 in rows:
            print(f"{label:28} {median:10.1f} {p95:8.1f}")
        with app.app_context(), platform_access("bench audit search"):
            plan = (
                db.session.execute(
                    text(
                        "EXPLAIN SELECT * FROM audit_events WHERE school_id = :s AND actor_id = :a "
                        "ORDER BY occurred_at DESC, id DESC LIMIT 51"
                    ),
                    {"s": school_id, "a": actors[7]},
                )
                .scalars()
                .all()
            )
        print("\nPlan (by actor):\n  " + "\n  ".join(plan))
    finally:
        dispose_pools(app)
        with admin_engine.connect() as connection:
            connection.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
        admin_engine.dispose()


if __name__ == "__main__":
    main()
