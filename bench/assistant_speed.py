"""How long the assistant takes to answer offline when the school is large: names are looked up
among every student the caller can see, so the demo school is grown to `--students` more.

    .venv/bin/python bench/assistant_speed.py [--students 2000] [--repeat 10]

Builds the demo school in a scratch SQLite database, adds the students, and asks each question
`--repeat` times as the admin through the HTTP API (in-process), printing the median and the
slowest time per question. Bounded in count; no network.
"""

from __future__ import annotations

import argparse
import random
import statistics
import sys
import tempfile
import time
from datetime import date
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from flask_migrate import upgrade
from sqlalchemy import select

from backend import create_app
from backend.config import settings_from
from backend.core.db import dispose_pools
from backend.core.extensions import db
from backend.demo.assistant_eval import EVALUATION_RATE_LIMIT
from backend.demo.seed import FIRST, LAST, SLUG, seed
from backend.schools import School
from backend.students import Student
from backend.tenancy import platform_access

FAST_HASHING = {
    "PASSWORD_HASH_TIME_COST": 1,
    "PASSWORD_HASH_MEMORY_KIB": 1024,
    "PASSWORD_HASH_PARALLELISM": 1,
}
QUESTIONS = (
    "how is Noah Fox doing",
    "show me D-007",
    "whats Ravi Quiinns average",
    "tell me about Zebedee Quartz",
    "how many students are there?",
    "who has the lowest attendance in the school",
    "is there school on saturday",
    "how do I link a parent to a student?",
)


def _grow(students: int) -> None:
    school = db.session.scalar(select(School).where(School.slug == SLUG))
    assert school is not None
    rng = random.Random(1)
    db.session.add_all(
        Student(
            school_id=school.id,
            admission_number=f"X-{n:05d}",
            first_name=f"{rng.choice(FIRST)}{n % 7 or ''}",
            last_name=f"{rng.choice(LAST)}{'son' * (n % 3)}",
            date_of_birth=date(2015, 1, 1),
            grade_level=5,
            enrolled_on=date(2025, 9, 1),
        )
        for n in range(students)
    )
    db.session.commit()


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--students", type=int, default=2000)
    parser.add_argument("--repeat", type=int, default=10)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory(prefix="homeroom-speed-") as folder:
        config = {
            "APP_ENV": "testing",
            "DATABASE_URL": f"sqlite:///{folder}/speed.db",
            "LOG_LEVEL": "WARNING",
        }
        app = create_app(settings_from(**config, ASSISTANT_RATE_LIMIT=EVALUATION_RATE_LIMIT, **FAST_HASHING))
        with app.app_context(), platform_access("bench assistant speed"):
            upgrade()
            password = seed(lambda _n: None).password
            _grow(args.students)
        client = app.test_client()
        login = {"email": "admin@demo-school.example.org", "password": password}
        headers = {
            "Authorization": f"Bearer {client.post('/api/auth/login', json=login).get_json()['access_token']}"
        }
        print(f"{60 + args.students} students; median and slowest of {args.repeat} answers (offline):")
        for question in QUESTIONS:
            times = []
            for _ in range(args.repeat):
                start = time.perf_counter()
                response = client.post("/api/assistant/messages", json={"message": question}, headers=headers)
                times.append(time.perf_counter() - start)
                assert response.status_code == 200, response.get_json()
            median, slowest, kind = (
                statistics.median(times) * 1000,
                max(times) * 1000,
                response.get_json()["kind"],
            )
            print(f"  {median:7.1f} ms  {slowest:7.1f} ms  {kind:9} {question}")
        dispose_pools(app)


if __name__ == "__main__":
    main()
