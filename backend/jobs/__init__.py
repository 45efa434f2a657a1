"""Background jobs: written with the change that causes them, run by the outbox runner (`flask
outbox run`, the same process that delivers mail) through the handler each feature registers for
its kinds; dead letters for the operators (`/api/ops/jobs`)."""

from __future__ import annotations

from flask import Flask

from backend.config import Settings
from backend.jobs.models import Job, JobStatus
from backend.jobs.queue import (
    counts,
    dead_letters,
    discard,
    enqueue,
    forget_finished,
    is_pending,
    retry,
    wake,
)
from backend.jobs.runner import Defer, GiveUp, Handler, Runner, register_handler

__all__ = [
    "Defer",
    "GiveUp",
    "Handler",
    "Job",
    "JobStatus",
    "counts",
    "dead_letters",
    "discard",
    "enqueue",
    "forget_finished",
    "init_app",
    "is_pending",
    "register_handler",
    "retry",
    "wake",
]


def init_app(app: Flask, settings: Settings) -> None:
    """Jobs run in the outbox runner's rounds: one runner process for every kind of background work."""
    from backend.mail import register_before_round

    runner = Runner(app, settings)
    register_before_round(app, lambda _settings: runner.round())
