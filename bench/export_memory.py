"""Memory of a streamed CSV export as it grows: 1,000 to 100,000 students.

    .venv/bin/python bench/export_memory.py [--rows 100000] [--database-url URL]

Builds a scratch database (SQLite in a temporary folder unless --database-url names a PostgreSQL
server, on which a scratch database is made and dropped), inserts the students in batches, then
streams GET /api/exports/students through the real app as an admin, reading the body chunk by
chunk. It prints, at each step, the Python heap's peak (tracemalloc) during that export and the
process's resident memory: flat peaks mean the export holds a bounded batch, not the file.
"""

from __future__ import annotations

import argparse
import resource
import sys
import tempfile
import time
import tracemalloc
import uuid
from datetime import date
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from flask_migrate import upgrade
from sqlalchemy import insert

from backend import create_app
from backend.auth.schemas import UserCreateIn
from backend.auth.user_service import create_user
from backend.config import settings_from
from backend.core.db import dispose_pools, scratch_database
from backend.core.extensions import db
from backend.schools.service import create_school
from backend.students.models import Student
from backend.tenancy import Role

PASSWORD = "bench-export-passphrase-1"  # noqa: S105 - a scratch account in a scratch database
ADMIN = "admin@bench.example.org"
FAST = {"PASSWORD_HASH_TIME_COST": 1, "PASSWORD_HASH_MEMORY_KIB": 1024, "PASSWORD_HASH_PARALLELISM": 1}


def _fill(school_id: uuid.UUID, start: int, count: int) -> None:
    rows = [
        {
            "id": uuid.uuid4(),
            "school_id": school_id,
            "admission_number": f"M-{n:07d}",
            "first_name": f"First{n}",
            "last_name": f"Last{n}",
            "date_of_birth": date(2015, 1 + n % 12, 1 + n % 28),
            "grade_level": n % 12,
            "status": "active",
            "enrolled_on": date(2024, 9, 1),
        }
        for n in range(start, start + count)
    ]
    for batch in range(0, len(rows), 5000):
        db.session.execute(insert(Student), rows[batch : batch + 5000])
    db.session.commit()


def _measure(client: object, headers: dict[str, str]) -> tuple[int, int, float]:
    tracemalloc.start()
    tracemalloc.reset_peak()
    started = time.perf_counter()
    response = client.get("/api/exports/students", headers=headers, buffered=False)  # type: ignore[attr-defined]
    lines = 0
    for chunk in response.response:
        lines += chunk.count(b"\n") if isinstance(chunk, bytes) else chunk.count("\n")
    response.close()
    peak = tracemalloc.get_traced_memory()[1]
    tracemalloc.stop()
    return lines - 1, peak, time.perf_counter() - started


def run(database_url: str, steps: list[int]) -> None:
    app = create_app(settings_from(APP_ENV="testing", DATABASE_URL=database_url, LOG_LEVEL="WARNING", **FAST))
    with app.app_context():
        upgrade()
        school = create_school("Bench School", "bench-export", "Europe/London", "GBP")
        create_user(
            school.id,
            UserCreateIn(email=ADMIN, full_name="Admin", role=Role.ADMIN, password=PASSWORD),
        )
        school_id = school.id
    client = app.test_client()
    token = client.post("/api/auth/login", json={"email": ADMIN, "password": PASSWORD}).get_json()[
        "access_token"
    ]
    headers = {"Authorization": f"Bearer {token}"}
    have = 0
    print(f"{'rows':>8} {'heap peak during export':>24} {'process max RSS':>16} {'seconds':>8}")
    for target in steps:
        with app.app_context():
            _fill(school_id, have, target - have)
        have = target
        rows, peak, seconds = _measure(client, headers)
        rss = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
        print(f"{rows:>8} {peak / 1024 / 1024:>20.1f} MiB {rss:>12.1f} MiB {seconds:>8.2f}", flush=True)
    dispose_pools(app)


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--rows", type=int, default=100_000)
    parser.add_argument("--database-url", default="", help="a PostgreSQL server URL (default: SQLite)")
    args = parser.parse_args()
    steps = [n for n in (1_000, 10_000, 50_000) if n < args.rows] + [args.rows]
    if args.database_url:
        with scratch_database(args.database_url, "bench_export") as url:
            run(url, steps)
    else:
        with tempfile.TemporaryDirectory(prefix="homeroom-export-") as folder:
            run(f"sqlite:///{folder}/export.db", steps)


if __name__ == "__main__":
    main()
