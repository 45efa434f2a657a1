"""The figures of a run, from Locust's request log, the runner's probes and RSS samples, and the
fault windows: per step and per endpoint, errors by kind, each error classified.

expected    inside a fault window (plus `grace` seconds): a 503/429 problem with Retry-After, or a
            refused/reset/cut connection during a worker kill, a reload or the final SIGTERM (or an
            export cut mid-stream while the database is away), or a 409 to the retry of a write
            while the PostgreSQL path is cut (the first try's COMMIT can land with its answer
            lost: the retry then conflicts with it; the consistency check judges what is stored)
shed        a 503/429 problem with Retry-After outside any fault: load shedding, by design
unexpected  everything else: time-outs, other statuses, connections lost with no fault, bad bodies
"""

from __future__ import annotations

import json
import math
from collections import Counter, defaultdict
from collections.abc import Iterable
from pathlib import Path
from typing import Any

from bench.load.chaos import CONNECTION_FAULTS, Fault

SHEDDING = frozenset({"http_503", "http_429"})
LOGIN = "POST /api/auth/login"


def read_lines(path: Path) -> list[dict[str, Any]]:
    if not path.exists():
        return []
    return [json.loads(line) for line in path.read_text().splitlines() if line.strip()]


def percentile(values: list[float], share: float) -> float | None:
    if not values:
        return None
    ordered = sorted(values)
    return round(ordered[min(len(ordered) - 1, math.ceil(share * len(ordered)) - 1)], 1)


def latency(values: list[float]) -> dict[str, float | None]:
    return {"p50": percentile(values, 0.50), "p95": percentile(values, 0.95), "p99": percentile(values, 0.99)}


def active(faults: list[Fault], t: float, grace: float) -> list[Fault]:
    return [f for f in faults if f.start <= t <= (math.inf if f.name == "term" else f.end + grace)]


def classify(request: dict[str, Any], faults: list[Fault], grace: float) -> str:
    kind = request["kind"]
    if kind == "ok":
        return "ok"
    window = {fault.name for fault in active(faults, request["t"], grace)}
    if kind in SHEDDING and request.get("retry_after") and request.get("problem"):
        return "expected" if window else "shed"
    if kind in ("reset", "refused", "cut") and window & CONNECTION_FAULTS:
        return "expected"
    if kind == "cut" and "pg" in window and "/api/exports/" in request["name"]:
        return "expected"
    if kind == "http_409" and "pg" in window and request.get("attempt", 1) > 1:
        return "expected"
    return "unexpected"


def errors_by_class(requests: Iterable[dict[str, Any]]) -> dict[str, int]:
    counts = Counter(r["class"] for r in requests if r["class"] != "ok")
    return {name: counts.get(name, 0) for name in ("expected", "shed", "unexpected")}


def within(samples: Iterable[Any], start: float, end: float) -> list[Any]:
    return [s for s in samples if start <= s[0] < end]


def burst_rate(sign_ins: list[dict[str, Any]]) -> float | None:
    """Sign-ins per second while users were signing in: from the first one sent to the last
    one answered (each user signs in once, as its step starts)."""
    if len(sign_ins) < 2:
        return None
    span = max(r["t"] for r in sign_ins) - min(r["start"] for r in sign_ins)
    return round(len(sign_ins) / max(span, 1e-3), 2)


def step_figures(
    requests: list[dict[str, Any]], monitor: dict[str, Any], users: int, start: float, end: float
) -> dict[str, Any]:
    inside = [r for r in requests if start <= r["t"] < end]
    seconds = max(end - start, 1e-9)
    sign_ins = [r for r in inside if r["name"] == LOGIN and r["kind"] == "ok"]
    rss = [mib for _, _, mib in within(monitor["rss"], start, end)]
    return {
        "users": users,
        "seconds": round(seconds, 1),
        "requests": len(inside),
        "rps": round(len(inside) / seconds, 1),
        "ok_rps": round(sum(r["kind"] == "ok" for r in inside) / seconds, 1),
        **latency([r["ms"] for r in inside]),
        "errors": errors_by_class(inside),
        "sign_ins": len(sign_ins),
        "sign_ins_per_s": burst_rate(sign_ins),
        "sign_in_latency": latency([r["ms"] for r in sign_ins]),
        "probe_max_ms": {
            path: max((ms for _, _, ms in within(samples, start, end)), default=None)
            for path, samples in monitor["probes"].items()
        },
        "probe_failures": {
            path: sum(status != 200 for _, status, _ in within(samples, start, end))
            for path, samples in monitor["probes"].items()
        },
        "rss_mib": {"min": round(min(rss), 1) if rss else None, "max": round(max(rss), 1) if rss else None},
    }


def endpoint_figures(requests: list[dict[str, Any]], seconds: float) -> dict[str, Any]:
    by_name: dict[str, list[dict[str, Any]]] = defaultdict(list)
    for request in requests:
        by_name[request["name"]].append(request)
    return {
        name: {
            "count": len(group),
            "rps": round(len(group) / max(seconds, 1e-9), 2),
            **latency([r["ms"] for r in group]),
            "errors": errors_by_class(group),
        }
        for name, group in sorted(by_name.items())
    }


def error_kinds(requests: list[dict[str, Any]]) -> dict[str, dict[str, int]]:
    kinds: dict[str, Counter[str]] = defaultdict(Counter)
    for request in requests:
        if request["class"] != "ok":
            kinds[request["kind"]][request["class"]] += 1
    return {kind: dict(counts) for kind, counts in sorted(kinds.items())}


def timeline(requests: list[dict[str, Any]], t0: float, end: float) -> list[dict[str, Any]]:
    """Per second: answered requests, errors by class, sign-ins; latency percentiles per second."""
    seconds = max(1, math.ceil(end - t0))
    buckets: list[list[dict[str, Any]]] = [[] for _ in range(seconds)]
    for request in requests:
        index = int(request["t"] - t0)
        if 0 <= index < seconds:
            buckets[index].append(request)
    return [
        {
            "t": index,
            "requests": len(bucket),
            "ok": sum(r["kind"] == "ok" for r in bucket),
            **errors_by_class(bucket),
            "sign_ins": sum(r["name"] == LOGIN and r["kind"] == "ok" for r in bucket),
            **latency([r["ms"] for r in bucket]),
        }
        for index, bucket in enumerate(buckets)
    ]


def figures(
    requests: list[dict[str, Any]],
    monitor: dict[str, Any],
    faults: list[Fault],
    steps: list[tuple[int, float]],
    t0: float,
    grace: float,
) -> dict[str, Any]:
    for request in requests:
        request["class"] = classify(request, faults, grace)
    bounds = [t0 + sum(seconds for _, seconds in steps[:i]) for i in range(len(steps) + 1)]
    end = max([bounds[-1], *(r["t"] for r in requests)])
    unexpected = [r for r in requests if r["class"] == "unexpected"]
    return {
        "steps": [
            step_figures(
                requests, monitor, users, bounds[i], bounds[i + 1] if i + 1 < len(steps) else end + 1
            )
            for i, (users, _) in enumerate(steps)
        ],
        "total": step_figures(requests, monitor, max(u for u, _ in steps), t0, end + 1),
        "endpoints": endpoint_figures(requests, end - t0),
        "errors_by_kind": error_kinds(requests),
        "unexpected_examples": [
            {k: r.get(k) for k in ("t", "name", "status", "kind", "ms", "role")} for r in unexpected[:30]
        ],
        "timeline": timeline(requests, t0, end + 1),
    }
