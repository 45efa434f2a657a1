"""Homeroom against a bare Flask app (and, optionally, an earlier revision or a peer), in rounds.

    bench/run.sh [--rounds 5] [--seconds 5] [--connections 32] [--baseline REV] [--peer NAME=URL]

Starts on 127.0.0.1, with the same Gunicorn settings (workers, threads, keep-alive; no recycling):
Homeroom on PostgreSQL + Redis (a scratch database with the demo school), the bare Flask reference
(bench/reference_app.py), and with --baseline REV Homeroom as it was at REV (a git worktree, on
the same database). Each round runs every scenario against every target in turn (the order
rotates), with wrk where installed, else a bounded Python generator. Records requests/s, p50/p99
and server CPU per request (master, workers and reaped workers); reports medians of the rounds,
and ratios from this one run. Writes bench/results/run-<time>.json and .png.
"""

from __future__ import annotations

import argparse
import contextlib
import http.client
import json
import shutil
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Iterator
from dataclasses import asdict, dataclass, field
from datetime import datetime
from pathlib import Path
from typing import Any

import profiling
from common import (
    DEFAULT_DATABASE,
    DEFAULT_REDIS,
    ROOT,
    School,
    Server,
    free_port,
    homeroom_env,
    scratch_database,
    seed_demo_school,
    start_gunicorn,
)

RESULTS = ROOT / "bench" / "results"
HOMEROOM, REFERENCE = "homeroom", "flask"


@dataclass(frozen=True)
class Scenario:
    name: str
    method: str
    path: str
    role: str | None = None  # whose token: admin, teacher, parent
    body: Any = None
    reference: bool = False  # the bare Flask app answers it too


@dataclass
class Sample:
    target: str
    scenario: str
    round: int
    requests: int
    seconds: float
    rps: float
    p50_ms: float
    p99_ms: float
    max_ms: float
    errors: int
    cpu_ms_per_request: float
    statuses: str = ""


@dataclass
class Target:
    name: str
    server: Server | None  # None: a peer at a URL (no CPU figures)
    url: str
    tokens: dict[str, str] = field(default_factory=dict)
    scenarios: set[str] = field(default_factory=set)


def scenarios(school: School) -> list[Scenario]:
    class_id, students = next(iter(school.classes.items()))
    register = {"records": [{"student_id": s, "status": "present"} for s in students]}
    return [
        Scenario("health", "GET", "/health", reference=True),
        Scenario("problem_404", "GET", "/no/such/page", reference=True),
        Scenario("api_health", "GET", "/api/health", reference=True),
        Scenario("students_list_50", "GET", "/api/students?limit=50", role="admin"),
        Scenario("parent_dashboard", "GET", "/api/parent/dashboard", role="parent"),
        Scenario(
            "attendance_save_30",
            "PUT",
            f"/api/classes/{class_id}/attendance?date={school.school_day.isoformat()}",
            role=f"teacher:{school.class_teachers[class_id]}",
            body=register,
        ),
    ]


# --- load generators ----------------------------------------------------------------------------


def run_wrk(url: str, scenario: Scenario, token: str, seconds: float, connections: int) -> dict[str, Any]:
    env = {"BENCH_METHOD": scenario.method, "BENCH_TOKEN": token, "BENCH_BODY_FILE": ""}
    with tempfile.NamedTemporaryFile("w", suffix=".json", delete=False) as body_file:
        if scenario.body is not None:
            json.dump(scenario.body, body_file)
            env["BENCH_BODY_FILE"] = body_file.name
    try:
        out = subprocess.run(
            [
                "wrk",
                f"-t{min(2, connections)}",
                f"-c{connections}",
                f"-d{max(1, round(seconds))}s",
                "--timeout",
                "10s",
                "-s",
                str(ROOT / "bench" / "wrk_report.lua"),
                url + scenario.path,
            ],
            env={**env, "PATH": "/usr/bin:/bin"},
            capture_output=True,
            text=True,
            timeout=seconds + 60,
            check=True,
        ).stdout
    finally:
        Path(body_file.name).unlink(missing_ok=True)
    report: dict[str, Any] = json.loads(out.strip().splitlines()[-1])
    return {
        "requests": report["requests"],
        "seconds": report["duration_us"] / 1e6,
        "p50_ms": report["p50_us"] / 1000,
        "p99_ms": report["p99_us"] / 1000,
        "max_ms": report["max_us"] / 1000,
        "errors": sum(report[k] for k in ("connect_errors", "read_errors", "write_errors", "timeouts")),
        "non_2xx": report["non_2xx"],
    }


def run_python(url: str, scenario: Scenario, token: str, seconds: float, connections: int) -> dict[str, Any]:
    """Keep-alive connections on threads, each sending one request after another until the time is up."""
    host, port = url.removeprefix("http://").split(":")
    headers = {"Authorization": f"Bearer {token}"} if token else {}
    payload = None
    if scenario.body is not None:
        payload = json.dumps(scenario.body).encode()
        headers["Content-Type"] = "application/json"
    latencies: list[float] = []
    errors = non_2xx = 0
    lock = threading.Lock()
    deadline = time.monotonic() + seconds

    def client() -> None:
        nonlocal errors, non_2xx
        connection = http.client.HTTPConnection(host, int(port), timeout=10)
        mine: list[float] = []
        while time.monotonic() < deadline:
            started = time.perf_counter()
            try:
                connection.request(scenario.method, scenario.path, body=payload, headers=headers)
                response = connection.getresponse()
                response.read()
                mine.append(time.perf_counter() - started)
                if response.status >= 400:
                    with lock:
                        non_2xx += 1
            except (OSError, http.client.HTTPException):
                with lock:
                    errors += 1
                connection.close()
                connection = http.client.HTTPConnection(host, int(port), timeout=10)
        connection.close()
        with lock:
            latencies.extend(mine)

    started = time.monotonic()
    threads = [threading.Thread(target=client) for _ in range(connections)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(seconds + 30)
    elapsed = time.monotonic() - started
    latencies.sort()

    def pct(p: float) -> float:
        return latencies[min(len(latencies) - 1, int(len(latencies) * p))] * 1000 if latencies else 0.0

    return {
        "requests": len(latencies),
        "seconds": elapsed,
        "p50_ms": pct(0.50),
        "p99_ms": pct(0.99),
        "max_ms": latencies[-1] * 1000 if latencies else 0.0,
        "errors": errors,
        "non_2xx": non_2xx,
    }


# --- targets ------------------------------------------------------------------------------------


@contextlib.contextmanager
def worktree(revision: str) -> Iterator[Path]:
    path = Path(tempfile.mkdtemp(prefix="homeroom-baseline-"))
    subprocess.run(["git", "-C", str(ROOT), "worktree", "add", "--detach", str(path), revision], check=True)
    try:
        yield path
    finally:
        subprocess.run(["git", "-C", str(ROOT), "worktree", "remove", "--force", str(path)], check=False)
        shutil.rmtree(path, ignore_errors=True)


def sign_in(target: Target, school: School, scenario_list: list[Scenario]) -> None:
    assert target.server is not None
    for scenario in scenario_list:
        role = scenario.role
        if role and role not in target.tokens:
            email = {"admin": school.admin, "parent": school.parents[0]}.get(role) or role.split(":", 1)[1]
            target.tokens[role] = target.server.login(email, school.password)
        status, body = target.server.request(
            scenario.method, scenario.path, scenario.body, target.tokens.get(role or "")
        )
        if status >= 500 or (scenario.role and status != 200):
            raise RuntimeError(f"{target.name} {scenario.name}: {status} {body}")


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--rounds", type=int, default=5)
    parser.add_argument("--seconds", type=float, default=5.0, help="per scenario, target and round")
    parser.add_argument("--connections", type=int, default=32)
    parser.add_argument("--workers", type=int, default=None, help="default: Homeroom's (2 x CPUs + 1)")
    parser.add_argument("--baseline", metavar="REV", help="also run Homeroom as it was at this git revision")
    parser.add_argument("--peer", action="append", default=[], metavar="SCENARIO=URL[|TOKEN]")
    parser.add_argument("--scenario", action="append", default=[], help="run only these (repeatable)")
    parser.add_argument("--generator", choices=("auto", "wrk", "python"), default="auto")
    parser.add_argument("--profile", action="store_true", help="py-spy Homeroom's workers in the last round")
    parser.add_argument(
        "--database", default=DEFAULT_DATABASE, help="PostgreSQL server (a scratch database is made)"
    )
    parser.add_argument(
        "--redis", default=DEFAULT_REDIS, help="Redis database for the limits (emptied first)"
    )
    args = parser.parse_args()
    if args.profile and not profiling.available():
        parser.error("--profile needs py-spy (pip install py-spy; run as root or allow ptrace)")
    if args.rounds < 1 or args.rounds > 50 or not 0.5 <= args.seconds <= 120:
        parser.error("rounds 1-50 and seconds 0.5-120: every run is bounded")
    generator = (
        run_wrk
        if args.generator == "wrk" or (args.generator == "auto" and shutil.which("wrk"))
        else run_python
    )
    RESULTS.mkdir(parents=True, exist_ok=True)
    stamp = datetime.now().strftime("%Y%m%d-%H%M%S")
    log_dir = Path(tempfile.mkdtemp(prefix="homeroom-bench-"))

    import redis

    redis.Redis.from_url(args.redis).flushdb()
    with contextlib.ExitStack() as stack:
        database = stack.enter_context(scratch_database(args.database))
        print("Seeding the demo school ...", flush=True)
        school = seed_demo_school(database)
        scenario_list = [s for s in scenarios(school) if not args.scenario or s.name in args.scenario]
        settings = {"GUNICORN_MAX_REQUESTS": "0", "GUNICORN_WORKERS": str(args.workers or "")}
        targets: list[Target] = []

        def homeroom(name: str, cwd: Path) -> Target:
            env = homeroom_env(database, args.redis, free_port(), **settings)
            server = start_gunicorn(name, "wsgi:application", env, log_dir, cwd=cwd)
            stack.callback(server.stop)
            target = Target(name, server, server.url, scenarios={s.name for s in scenario_list})
            sign_in(target, school, scenario_list)
            return target

        targets.append(homeroom(HOMEROOM, ROOT))
        if args.baseline:
            tree = stack.enter_context(worktree(args.baseline))
            targets.append(homeroom(f"{HOMEROOM}@{args.baseline}", tree))
        reference_env = homeroom_env(database, None, free_port(), **settings)
        reference = start_gunicorn(
            REFERENCE, "bench.reference_app:app", reference_env, log_dir, config="bench/reference_gunicorn.py"
        )
        stack.callback(reference.stop)
        targets.append(
            Target(
                REFERENCE, reference, reference.url, scenarios={s.name for s in scenario_list if s.reference}
            )
        )
        for spec in args.peer:
            scenario_name, _, rest = spec.partition("=")
            url, _, token = rest.partition("|")
            base = url.split("/", 3)
            peer_scenario = next(s for s in scenario_list if s.name == scenario_name)
            peer_path = "/" + base[3] if len(base) > 3 else "/"
            scenario_list.append(Scenario(f"{scenario_name}@peer", peer_scenario.method, peer_path))
            targets.append(Target("peer", None, "/".join(base[:3]), {"": token}, {f"{scenario_name}@peer"}))

        samples: list[Sample] = []
        print(
            f"Generator: {generator.__name__}; {args.connections} connections; {args.seconds:g} s per run",
            flush=True,
        )
        for round_number in range(args.rounds + 1):  # round 0 warms up and is not counted
            seconds = 1.0 if round_number == 0 else args.seconds
            for scenario in scenario_list:
                runnable = [t for t in targets if scenario.name in t.scenarios]
                shift = round_number % len(runnable) if runnable else 0
                for target in runnable[shift:] + runnable[:shift]:
                    token = target.tokens.get(scenario.role or "", "")
                    before = target.server.cpu_seconds() if target.server else 0.0
                    sampled = args.profile and round_number == args.rounds and target.name == HOMEROOM
                    with profiled(target, scenario, seconds, stamp) if sampled else contextlib.nullcontext():
                        result = generator(target.url, scenario, token, seconds, args.connections)
                    used = (target.server.cpu_seconds() - before) if target.server else 0.0
                    if round_number == 0:
                        continue
                    sample = Sample(
                        target.name,
                        scenario.name,
                        round_number,
                        result["requests"],
                        result["seconds"],
                        result["requests"] / result["seconds"],
                        result["p50_ms"],
                        result["p99_ms"],
                        result["max_ms"],
                        result["errors"],
                        used * 1000 / max(1, result["requests"]),
                        f"non-2xx {result['non_2xx']}",
                    )
                    samples.append(sample)
                    print(
                        f"  round {round_number} {scenario.name:20} {target.name:22} {sample.rps:9.0f} rps  "
                        f"p50 {sample.p50_ms:6.2f} ms  p99 {sample.p99_ms:7.2f} ms  "
                        f"cpu {sample.cpu_ms_per_request:5.2f} ms/req  errors {sample.errors}",
                        flush=True,
                    )
        memory = {t.name: t.server.private_mib() for t in targets if t.server}
        served = {t.name: sum(s.requests for s in samples if s.target == t.name) for t in targets if t.server}
        summary = summarise(samples, targets)
        report = {
            "when": stamp,
            "machine": {"cpus": __import__("os").cpu_count(), "python": sys.version.split()[0]},
            "settings": {
                "rounds": args.rounds,
                "seconds": args.seconds,
                "connections": args.connections,
                "generator": generator.__name__,
                "baseline": args.baseline,
                "gunicorn": settings,
            },
            "summary": summary,
            "worker_private_mib": memory,
            "requests_served": served,
            "samples": [asdict(s) for s in samples],
        }
        json_path = RESULTS / f"run-{stamp}.json"
        json_path.write_text(json.dumps(report, indent=2))
        chart(summary, RESULTS / f"run-{stamp}.png")
        print_summary(summary, memory, served)
        print(f"\nWrote {json_path} and {json_path.with_suffix('.png')}")


@contextlib.contextmanager
def profiled(target: Target, scenario: Scenario, seconds: float, stamp: str) -> Iterator[None]:
    """py-spy on every worker of `target` while the block runs, then the summary printed."""
    assert target.server is not None
    stacks = RESULTS / f"profile-{stamp}-{scenario.name}.txt"
    with profiling.record([w.pid for w in target.server.workers()], seconds, stacks):
        yield
    summary = profiling.summarise(stacks)
    print(f"    profile of {scenario.name} ({summary.samples} samples, {stacks.name}):", flush=True)
    for part, percent in summary.percent_by_part.items():
        print(f"      {percent:5.1f} %  {part}")
    for function, percent in summary.percent_own_by_function:
        print(f"      {percent:5.1f} %  own: {function[:110]}")


def summarise(samples: list[Sample], targets: list[Target]) -> dict[str, dict[str, Any]]:
    """Medians over the rounds per scenario and target, and ratios to the reference and baseline."""
    out: dict[str, dict[str, Any]] = {}
    for scenario in dict.fromkeys(s.scenario for s in samples):
        row: dict[str, Any] = {}
        for target in targets:
            mine = [s for s in samples if s.scenario == scenario and s.target == target.name]
            if not mine:
                continue
            row[target.name] = {
                "rps": statistics.median(s.rps for s in mine),
                "p50_ms": statistics.median(s.p50_ms for s in mine),
                "p99_ms": statistics.median(s.p99_ms for s in mine),
                "max_ms": max(s.max_ms for s in mine),
                "cpu_ms_per_request": statistics.median(s.cpu_ms_per_request for s in mine),
                "errors": sum(s.errors for s in mine),
            }
        ours = row.get(HOMEROOM)
        if ours:
            for other, figures in list(row.items()):
                if other != HOMEROOM and isinstance(figures, dict) and figures.get("rps"):
                    row[f"ratio_vs_{other}"] = round(ours["rps"] / figures["rps"], 3)
            ours["p99_over_p50"] = round(ours["p99_ms"] / ours["p50_ms"], 2) if ours["p50_ms"] else None
        out[scenario] = row
    return out


def print_summary(
    summary: dict[str, dict[str, Any]], memory: dict[str, list[float]], served: dict[str, int]
) -> None:
    print("\nMedians of the rounds:")
    for scenario, row in summary.items():
        print(f"  {scenario}")
        for name, figures in row.items():
            if isinstance(figures, dict):
                print(
                    f"    {name:24} {figures['rps']:9.0f} req/s  p50 {figures['p50_ms']:6.2f}  "
                    f"p99 {figures['p99_ms']:7.2f}  cpu {figures['cpu_ms_per_request']:5.2f} ms/req"
                )
            else:
                print(f"    {name:24} {figures}")
    print("\nWorker private memory (USS, MiB) after the run:")
    for name, sizes in memory.items():
        print(
            f"  {name:24} {', '.join(f'{m:.1f}' for m in sizes)}  ({served.get(name, 0):,} requests served)"
        )


def chart(summary: dict[str, dict[str, Any]], path: Path) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    scenario_names = list(summary)
    target_names = list(
        dict.fromkeys(n for row in summary.values() for n, v in row.items() if isinstance(v, dict))
    )
    fig, axes = plt.subplots(3, 1, figsize=(11, 11))
    width = 0.8 / max(1, len(target_names))
    for i, name in enumerate(target_names):
        xs = [j + i * width for j in range(len(scenario_names))]
        for axis, key in zip(axes, ("rps", "p99_ms", "cpu_ms_per_request"), strict=True):
            values = [summary[s].get(name, {}).get(key, 0) for s in scenario_names]
            axis.bar(xs, values, width, label=name)
    for axis, title in zip(
        axes, ("requests/s (median of rounds)", "p99 latency, ms", "server CPU per request, ms"), strict=True
    ):
        axis.set_title(title)
        axis.set_xticks([j + width * (len(target_names) - 1) / 2 for j in range(len(scenario_names))])
        axis.set_xticklabels(scenario_names, rotation=15)
        axis.legend()
    fig.tight_layout()
    fig.savefig(path, dpi=90)


if __name__ == "__main__":
    main()
