"""Where a worker's time goes under load: py-spy samples of running Gunicorn workers, summed.

`bench/run.sh --profile` records every Homeroom worker during each scenario of the last round
(py-spy, 250 samples a second, only the thread holding the GIL: where the CPU goes, not where
threads wait on sockets) and prints, per scenario, the share of the
samples that pass through each of a few named parts of the request path (`PARTS`) and the
functions with the most samples of their own. Raw stacks go to bench/results/ next to the run's
JSON, one file per scenario, in the collapsed format flame-graph tools read.
"""

from __future__ import annotations

import collections
import contextlib
import dataclasses
import shutil
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

# A sample counts for a part when any of its frames matches (substring of "function (file)"):
# a part's share includes what it calls. "outside the app" is a sample that never entered Flask.
PARTS: dict[str, tuple[str, ...]] = {
    "SQL (SQLAlchemy + psycopg)": ("sqlalchemy/", "psycopg/"),
    "rate limit (Flask-Limiter, limits, Redis)": ("flask_limiter/", "limits/"),
    "Redis (any caller)": ("redis/",),
    "logging (structlog, logging)": ("structlog/", "logging/__init__"),
    "JSON out (pydantic, json, orjson)": ("dump_json", "json/", "orjson"),
    "token (PyJWT)": ("jwt/",),
    "authentication (backend/auth/access.py)": ("auth/access.py",),
    "outside the app (Gunicorn, no Flask frame)": (),
}
_IN_FLASK = "flask/app.py"


def _py_spy() -> str | None:
    beside = Path(sys.executable).with_name("py-spy")  # in the bench's virtual environment
    return str(beside) if beside.exists() else shutil.which("py-spy")


def available() -> bool:
    return _py_spy() is not None


@contextlib.contextmanager
def record(pids: list[int], seconds: float, out: Path) -> Iterator[None]:
    """Sample `pids` while the block runs (at most `seconds` + 5); stacks appended to `out`."""
    processes = []
    parts = [out.with_suffix(f".{pid}.txt") for pid in pids]
    for pid, part in zip(pids, parts, strict=True):
        command = [str(_py_spy()), "record", "--pid", str(pid), "--duration", str(max(1, round(seconds)))]
        command += ["--rate", "250", "--gil", "--format", "raw", "--nonblocking", "--output", str(part)]
        processes.append(subprocess.Popen(command, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL))
    try:
        yield
    finally:
        for process in processes:
            try:
                process.wait(timeout=seconds + 5)
            except subprocess.TimeoutExpired:
                process.kill()
        with out.open("a") as merged:
            for part in parts:
                if part.exists():
                    merged.write(part.read_text())
                    part.unlink()


@dataclasses.dataclass(frozen=True)
class Profile:
    samples: int
    percent_by_part: dict[str, float]
    percent_own_by_function: list[tuple[str, float]]


def summarise(stacks_file: Path, top: int = 12) -> Profile:
    """Shares of the samples by part, and the functions with the most samples of their own."""
    total = 0
    by_part: collections.Counter[str] = collections.Counter()
    own: collections.Counter[str] = collections.Counter()
    for line in stacks_file.read_text().splitlines():
        stack, _, count_text = line.rpartition(" ")
        if not count_text.isdigit() or not _in_a_request(stack):
            continue
        count = int(count_text)
        total += count
        for part, markers in PARTS.items():
            if any(marker in stack for marker in markers) or (not markers and _IN_FLASK not in stack):
                by_part[part] += count
        own[stack.rsplit(";", 1)[-1]] += count
    share = {part: round(100 * n / total, 1) for part, n in by_part.most_common()} if total else {}
    functions = [(name, round(100 * n / total, 1)) for name, n in own.most_common(top)] if total else []
    return Profile(total, share, functions)


def _in_a_request(stack: str) -> bool:
    """Samples of threads doing something: a waiting thread (its pool, the event loop's select)
    is idle time, not a request's cost."""
    leaf = stack.rsplit(";", 1)[-1]
    return not any(idle in leaf for idle in ("wait (threading.py", "select (selectors.py", "_worker ("))
