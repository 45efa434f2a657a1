"""The load-and-fault suite: Homeroom under Locust users with faults injected, then a consistency
check against the database. One command; everything runs on 127.0.0.1 and is stopped at the end
(also on Ctrl-C or a failure). See bench/README.md for what it reports.

    .venv/bin/python bench/load/run.py            # 100, 200, 400 users; every fault (~12 min)
    .venv/bin/python bench/load/run.py --smoke    # 20 users for 30 s, one fault (the CI test)

Exit status: 0 when every write checks out and every error was expected; 1 otherwise."""

from __future__ import annotations

import argparse
import base64
import json
import math
import os
import signal
import subprocess
import sys
import time
from contextlib import ExitStack
from datetime import datetime
from pathlib import Path
from types import FrameType
from typing import Any

ROOT = Path(__file__).resolve().parents[2]
sys.path[0] = str(ROOT)  # instead of this folder: bench.* and tests.faults import from the root

from bench.common import DEFAULT_DATABASE, scratch_database  # noqa: E402
from bench.load.chaos import ALL, Fault, Injector, finish_term, plan, run_plan, say  # noqa: E402
from bench.load.chart import chart  # noqa: E402
from bench.load.check import check  # noqa: E402
from bench.load.monitor import Monitor  # noqa: E402
from bench.load.report import figures, read_lines  # noqa: E402
from bench.load.school import seed_load_school  # noqa: E402
from bench.load.stack import Stack, start_locust, start_stack, stop_process, wait_for_line  # noqa: E402

RESULTS = Path(__file__).with_name("results")
TEACHER_SHARE = 0.2  # the locustfile's weights: parents 6, teachers 2, admins 2


def parse(argv: list[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--smoke", action="store_true", help="20 users for 30 s with one fault (pg)")
    parser.add_argument("--users", default="100,200,400", help="users in each step (default 100,200,400)")
    parser.add_argument("--step-seconds", type=float, default=200.0, help="how long each step lasts")
    parser.add_argument("--spawn-rate", type=float, default=20.0, help="users started per second")
    parser.add_argument("--faults", default=",".join(ALL), help=f"comma-separated, from {','.join(ALL)}")
    parser.add_argument("--timeout", type=float, default=30.0, help="seconds a client waits for an answer")
    parser.add_argument("--grace", type=float, default=10.0, help="seconds after a fault still in its window")
    parser.add_argument("--redis-seconds", type=float, default=10.0, help="how long Redis stays down")
    parser.add_argument("--pg-seconds", type=float, default=5.0, help="how long the PostgreSQL path is cut")
    parser.add_argument(
        "--database",
        default=os.environ.get("BENCH_DATABASE_URL", DEFAULT_DATABASE),
        help="a PostgreSQL server URL; a scratch database is created on it and dropped after",
    )
    parser.add_argument("--out", type=Path, help="results folder (default bench/load/results/<time>)")
    parser.add_argument("--workers", type=int, default=2, help="Gunicorn workers (production: 2 x CPUs + 1)")
    parser.add_argument("--threads", type=int, default=4, help="threads per Gunicorn worker")
    args = parser.parse_args(argv)
    if args.smoke:
        args.users, args.step_seconds, args.faults = "20", 30.0, "pg"
    if not (1 <= args.workers <= 16 and 1 <= args.threads <= 32):
        parser.error("workers 1-16 and threads 1-32")
    args.steps = [(int(users), args.step_seconds) for users in args.users.split(",")]
    args.fault_list = [name for name in args.faults.split(",") if name]
    unknown = set(args.fault_list) - set(ALL)
    if unknown:
        parser.error(f"unknown faults: {sorted(unknown)}")
    return args


def interrupt_on_signals() -> None:
    """SIGTERM, and SIGINT even where it came in ignored (a background job), stop the run the way
    Ctrl-C does: through every cleanup."""

    def handler(signum: int, frame: FrameType | None) -> None:
        raise KeyboardInterrupt

    signal.signal(signal.SIGTERM, handler)
    signal.signal(signal.SIGINT, handler)


def drive(
    args: argparse.Namespace, stack_: Stack, locust: subprocess.Popen[bytes], results: Path
) -> tuple[float, list[Fault]]:
    """From the first user to the last: the faults at their moments, then the end of Locust."""
    t0 = wait_for_line(results / "locust.log", "Shape test starting", locust, 60)
    say(f"load started: steps {args.steps}")
    total = sum(seconds for _, seconds in args.steps)
    injector = Injector(stack_, args.redis_seconds, args.pg_seconds)
    faults = run_plan(injector, plan(args.fault_list, args.steps), t0, locust)
    try:
        locust.wait(timeout=max(1.0, t0 + total + 60 - time.time()))
    except subprocess.TimeoutExpired:
        say("locust did not stop on time: stopping it")
        stop_process(locust)
    say("load ended")
    finish_term(faults, stack_, timeout=60)
    injector.settle()
    return t0, faults


def run(args: argparse.Namespace, results: Path, stack: ExitStack) -> int:
    database = stack.enter_context(scratch_database(args.database))
    max_users = max(users for users, _ in args.steps)
    teachers = math.ceil(max_users * TEACHER_SHARE) + 4
    say(f"seeding the school ({teachers} teacher classes) in {database.rsplit('/', 1)[-1]}")
    shared = {"ENCRYPTION_KEY": base64.urlsafe_b64encode(os.urandom(32)).decode()}  # seed and server
    seed_load_school(database, teachers, max(2, math.ceil(max_users / 20)), results / "school.json", shared)
    server_env = {**shared, "GUNICORN_WORKERS": str(args.workers), "GUNICORN_THREADS": str(args.threads)}
    stack_ = start_stack(stack, database, results, server_env)
    say(f"gunicorn {stack_.server.url} (pid {stack_.server.process.pid}); redis {stack_.redis.url}")
    total = sum(seconds for _, seconds in args.steps)
    monitor = Monitor(stack_.server.port, stack_.server.process.pid, max_seconds=total + 300)
    monitor.start()
    stack.callback(monitor.stop)
    env = {
        "LOAD_SCHOOL": str(results / "school.json"),
        "LOAD_STEPS": ",".join(f"{users}:{seconds:g}" for users, seconds in args.steps),
        "LOAD_SPAWN_RATE": str(args.spawn_rate),
        "LOAD_TIMEOUT": str(args.timeout),
    }
    locust = start_locust(stack, stack_.server.url, results, env)
    t0, faults = drive(args, stack_, locust, results)
    monitor.stop()
    stack_.server.stop()
    say("checking the figures and the database")
    data = {
        "title": f"Homeroom load: {args.users} users, faults {args.faults or 'none'}",
        "command": sys.argv,
        "t0": t0,
        "steps": args.steps,
        "grace": args.grace,
        "faults": [fault.as_json() for fault in faults],
        "monitor": monitor.as_json(),
        "figures": figures(
            read_lines(results / "requests.jsonl"), monitor.as_json(), faults, args.steps, t0, args.grace
        ),
        "consistency": check(database, results / "writes.jsonl", faults, args.grace, shared),
    }
    return report(data, faults, results)


def report(data: dict[str, Any], faults: list[Fault], results: Path) -> int:
    unexpected = data["figures"]["total"]["errors"]["unexpected"]
    passed = data["consistency"]["passed"] and unexpected == 0
    data["passed"] = passed
    (results / "figures.json").write_text(
        json.dumps({k: v for k, v in data.items() if k != "monitor"}, indent=1)
    )
    (results / "samples.json").write_text(json.dumps(data["monitor"]))
    chart(results / "load.png", data, faults, data["t0"], data["grace"])
    print_summary(data, results)
    return 0 if passed else 1


def print_summary(data: dict[str, Any], results: Path) -> None:
    print(f"\n{'users':>6} {'req/s':>7} {'p50':>7} {'p95':>7} {'p99':>7} {'exp':>5} {'shed':>5} {'unexp':>5}"
          f" {'probe max ms':>14} {'sign-ins/s':>10} {'RSS MiB':>12}")  # fmt: skip
    for step in data["figures"]["steps"]:
        errors, probes = step["errors"], step["probe_max_ms"]
        probe = "/".join(f"{probes.get(p) or 0:.0f}" for p in ("/health", "/ready"))
        rss = f"{step['rss_mib']['min']}-{step['rss_mib']['max']}"
        print(
            f"{step['users']:>6} {step['rps']:>7} {step['p50'] or 0:>7} {step['p95'] or 0:>7}"
            f" {step['p99'] or 0:>7}"
            f" {errors['expected']:>5} {errors['shed']:>5} {errors['unexpected']:>5} {probe:>14}"
            f" {step['sign_ins_per_s']!s:>10} {rss:>12}"
        )
    consistency = data["consistency"]
    print(
        f"\nconsistency: {'passed' if consistency['passed'] else 'FAILED'}; checked {consistency['checked']}"
    )
    for problem in consistency["problems"][:20]:
        print(f"  problem: {problem}")
    for example in data["figures"]["unexpected_examples"][:10]:
        print(f"  unexpected: {example}")
    print(f"\n{'PASSED' if data['passed'] else 'FAILED'}; figures, chart and logs in {results}")


def main(argv: list[str] | None = None) -> int:
    args = parse(argv)
    results = args.out or RESULTS / datetime.now().strftime("%Y%m%d-%H%M%S")
    results.mkdir(parents=True, exist_ok=True)
    interrupt_on_signals()
    try:
        with ExitStack() as stack:
            return run(args, results, stack)
    except KeyboardInterrupt:
        say("interrupted: every process stopped, the scratch database dropped")
        return 130


if __name__ == "__main__":
    sys.exit(main())
