"""The load-and-fault suite's smoke run (`bench/load/run.py --smoke`): 20 Locust users for 30 s on
Gunicorn + PostgreSQL + Redis, the PostgreSQL path cut for 5 s in the middle, then the
consistency check. It asserts correctness only, never speed: nothing acknowledged is lost or
stored twice, nothing refused is stored, and every error was an expected one.

The runner is a subprocess (Locust's gevent never enters this process); it starts its own Redis,
Gunicorn and a scratch database on TEST_DATABASE_URL's server, and removes them all."""

from __future__ import annotations

import json
import signal
import subprocess
import sys
from pathlib import Path

import pytest

from backend.config import PROJECT_ROOT
from tests.conftest import TEST_DATABASE_URL, TEST_REDIS_URL

RUN_TIMEOUT = 480

pytestmark = pytest.mark.skipif(
    not (TEST_DATABASE_URL and TEST_REDIS_URL), reason="runs in the PostgreSQL pass (TEST_DATABASE_URL)"
)


def _run(results: Path) -> tuple[int, str]:
    command = [
        sys.executable,
        "bench/load/run.py",
        "--smoke",
        "--database",
        TEST_DATABASE_URL,
        "--out",
        str(results),
    ]
    process = subprocess.Popen(
        command, cwd=PROJECT_ROOT, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True
    )
    try:
        output, _ = process.communicate(timeout=RUN_TIMEOUT)
    except subprocess.TimeoutExpired:
        process.send_signal(signal.SIGINT)  # the runner stops what it started and drops its database
        output, _ = process.communicate(timeout=120)
        pytest.fail(f"the smoke run took over {RUN_TIMEOUT} s:\n{output[-4000:]}")
    return process.returncode, output


@pytest.mark.timeout(RUN_TIMEOUT + 180)
def test_the_smoke_load_loses_nothing_and_fails_only_where_a_fault_explains_it(tmp_path: Path) -> None:
    code, output = _run(tmp_path)
    figures_path = tmp_path / "figures.json"
    assert figures_path.exists(), output[-4000:]
    figures = json.loads(figures_path.read_text())
    consistency, total = figures["consistency"], figures["figures"]["total"]
    explanation = json.dumps(
        {
            "problems": consistency["problems"][:20],
            "unexpected": figures["figures"]["unexpected_examples"][:20],
        },
        indent=1,
    )
    assert code == 0, f"{explanation}\n{output[-3000:]}"
    assert consistency["passed"], explanation
    assert total["errors"]["unexpected"] == 0, explanation
    assert [fault["name"] for fault in figures["faults"]] == ["pg"]
    # The run did what it is for: users signed in and wrote, and the writes were checked.
    assert total["sign_ins"] >= 10
    for kind in ("payment", "attendance", "grade", "invoice", "audit_events"):
        assert consistency["checked"].get(kind, 0) > 0, (kind, consistency["checked"])
    assert (tmp_path / "load.png").stat().st_size > 0
