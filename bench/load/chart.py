"""One PNG of a run: throughput, latency, probes and worker memory over time, faults shaded."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt
from matplotlib.axes import Axes

from bench.load.chaos import Fault

COLOURS = {
    "redis": "tab:red",
    "pg": "tab:purple",
    "kill": "tab:brown",
    "reload": "tab:olive",
    "term": "tab:gray",
}


def shade(axes: list[Axes], faults: list[Fault], t0: float, grace: float, end: float) -> None:
    """Each fault's own time dark, the grace after it (still its window) light."""
    for fault in faults:
        colour = COLOURS.get(fault.name, "gray")
        stop = end if fault.name == "term" else fault.end - t0
        for ax in axes:
            ax.axvspan(fault.start - t0, max(stop, fault.start - t0 + 0.3), color=colour, alpha=0.3, lw=0)
            if fault.name != "term":  # the final SIGTERM's window lasts to the end
                ax.axvspan(stop, stop + grace, color=colour, alpha=0.08, lw=0)
        axes[0].annotate(
            fault.name, (fault.start - t0, 1.0), xycoords=("data", "axes fraction"), fontsize=8, va="bottom"
        )


def throughput(ax: Axes, timeline: list[dict[str, Any]], steps: list[tuple[int, float]]) -> None:
    seconds = [row["t"] for row in timeline]
    ax.plot(seconds, [row["ok"] for row in timeline], lw=0.8, label="answered ok /s")
    ax.plot(seconds, [row["expected"] + row["shed"] for row in timeline], lw=0.8, label="expected errors /s")
    ax.plot(
        seconds, [row["unexpected"] for row in timeline], lw=0.8, color="red", label="unexpected errors /s"
    )
    ax.plot(seconds, [row["sign_ins"] for row in timeline], lw=0.8, label="sign-ins /s")
    users = ax.twinx()
    edges, counts, start = [], [], 0.0
    for count, length in steps:
        edges += [start, start + length]
        counts += [count, count]
        start += length
    users.plot(edges, counts, color="black", lw=1, ls="--")
    users.set_ylim(0, max(counts) * 1.1)
    users.set_ylabel("users (dashed)")
    ax.set_ylabel("per second")
    ax.legend(loc="upper left", fontsize=7)


def latencies(ax: Axes, timeline: list[dict[str, Any]]) -> None:
    for key in ("p50", "p95", "p99"):
        points = [(row["t"], row[key]) for row in timeline if row[key] is not None]
        ax.plot([t for t, _ in points], [v for _, v in points], lw=0.8, label=f"{key} ms")
    ax.set_yscale("log")
    ax.set_ylabel("request latency (ms)")
    ax.legend(loc="upper left", fontsize=7)


def probes(ax: Axes, monitor: dict[str, Any], t0: float) -> None:
    for path, samples in monitor["probes"].items():
        ax.plot([t - t0 for t, _, _ in samples], [ms for _, _, ms in samples], lw=0.8, label=f"{path} ms")
        failed = [(t - t0, ms) for t, status, ms in samples if status != 200]
        ax.scatter([t for t, _ in failed], [ms for _, ms in failed], s=6, color="red")
    ax.axhline(1000, color="red", lw=0.6, ls=":")
    ax.set_yscale("log")
    ax.set_ylabel("probe latency (ms)\n(red: not 200)")
    ax.legend(loc="upper left", fontsize=7)


def memory(ax: Axes, monitor: dict[str, Any], t0: float) -> None:
    by_pid: dict[int, list[tuple[float, float]]] = {}
    for t, pid, mib in monitor["rss"]:
        by_pid.setdefault(pid, []).append((t - t0, mib))
    for points in by_pid.values():
        ax.plot([t for t, _ in points], [m for _, m in points], lw=0.8)
    ax.set_ylabel("worker RSS (MiB)")
    ax.set_xlabel("seconds since the load started")


def chart(path: Path, data: dict[str, Any], faults: list[Fault], t0: float, grace: float) -> None:
    figure, axes = plt.subplots(4, 1, figsize=(12, 12), sharex=True)
    timeline = data["figures"]["timeline"]
    throughput(axes[0], timeline, data["steps"])
    latencies(axes[1], timeline)
    probes(axes[2], data["monitor"], t0)
    memory(axes[3], data["monitor"], t0)
    shade(list(axes), faults, t0, grace, len(timeline))
    figure.suptitle(data["title"])
    figure.tight_layout()
    figure.savefig(path, dpi=110)
    plt.close(figure)
