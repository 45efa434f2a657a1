"""Running jobs: each kind's handler, registered at start-up by the feature that owns the kind,
called by the outbox runner (`flask outbox run`) once per round for a batch of due jobs.

A handler returns normally when the work is done; raises `Defer` when it cannot run yet (a rate
limit, a paused connection: not an attempt), `GiveUp` when no retry can help (dead at once), and
any other exception to be retried with backoff. A job's success commits with what its handler left
uncommitted (its last step and the job's end are one transaction); a failure rolls back what the
handler had not committed and records the outcome in a transaction of its own.
"""

from __future__ import annotations

import functools
import os
import socket
import threading
import uuid
from collections.abc import Callable
from dataclasses import dataclass

import structlog
from flask import Flask
from sqlalchemy.exc import SQLAlchemyError

from backend.config import Settings
from backend.core.extensions import db
from backend.jobs import queue
from backend.jobs.models import Job, JobStatus

log = structlog.get_logger("homeroom.jobs")
Handler = Callable[[Job, Settings], None]
_HANDLERS = "homeroom.job_handlers"


class Defer(Exception):
    """Run the job again in `seconds` (not an attempt)."""

    def __init__(self, seconds: float, reason: str) -> None:
        super().__init__(reason)
        self.seconds, self.reason = seconds, reason


class GiveUp(Exception):
    """No retry can help: the job is dead at once, for an operator to look at."""


def register_handler(app: Flask, kind: str, handler: Handler) -> None:
    """`handler` runs the jobs of `kind` (one handler per kind)."""
    handlers: dict[str, Handler] = app.extensions.setdefault(_HANDLERS, {})
    if kind in handlers:
        raise ValueError(f"a handler for job kind {kind!r} is already registered")
    handlers[kind] = handler


def handlers_of(app: Flask) -> dict[str, Handler]:
    handlers: dict[str, Handler] = app.extensions.get(_HANDLERS, {})
    return handlers


@dataclass
class Runner:
    """Claims and runs due jobs for one process (several run side by side safely)."""

    app: Flask
    settings: Settings

    @property
    def name(self) -> str:
        return f"{socket.gethostname()}:{os.getpid()}:{threading.get_ident() % 10_000}"

    def round(self) -> int:
        """Run one batch of due jobs; how many were claimed."""
        handlers = handlers_of(self.app)
        if not handlers:
            return 0
        batch = queue.claim(self.name, handlers, self.settings.jobs_batch_size)
        for job in batch:  # a runner stopped mid-batch leaves the rest to its lease
            self.run(handlers[job.kind], job)
        return len(batch)

    def run(self, handler: Handler, job: Job) -> None:
        job_id, kind = job.id, job.kind
        if not queue.start(job_id, self.name):
            log.warning("job_taken_over", job_id=str(job_id), kind=kind)
            return
        try:
            handler(job, self.settings)
        except Defer as defer:
            self._settle(
                job_id, functools.partial(queue.deferred, seconds=defer.seconds, reason=defer.reason)
            )
            log.info(
                "job_deferred", job_id=str(job_id), kind=kind, seconds=defer.seconds, reason=defer.reason
            )
        except GiveUp as error:
            self._settle(job_id, functools.partial(queue.failed, self.settings, error=str(error), final=True))
            log.error("job_dead", job_id=str(job_id), kind=kind, error=str(error))
        except Exception as error:  # noqa: BLE001 - any failure is retried with backoff
            message = f"{type(error).__name__}: {error}"
            self._settle(job_id, functools.partial(queue.failed, self.settings, error=message))
            log.warning("job_failed", job_id=str(job_id), kind=kind, error=message)
        else:
            self._succeeded(job_id, kind)

    def _succeeded(self, job_id: uuid.UUID, kind: str) -> None:
        """Done, with whatever the handler left uncommitted (read nothing from the job row first:
        an expired attribute would flush that work outside this guard)."""
        try:
            held = queue.succeeded(job_id, self.name)
        except SQLAlchemyError as error:  # that last step could not commit (a race on a unique key)
            message = f"{type(error).__name__} at the commit"
            self._settle(job_id, functools.partial(queue.failed, self.settings, error=message))
            log.warning("job_failed", job_id=str(job_id), kind=kind, error=message)
            return
        if not held:
            log.warning("job_taken_over", job_id=str(job_id), kind=kind)
            return
        log.info("job_done", job_id=str(job_id), kind=kind)

    def _settle(self, job_id: object, record: Callable[..., None]) -> None:
        """Record an outcome in a transaction of its own (the handler's may have failed)."""
        db.session.rollback()
        job = db.session.get(Job, job_id, populate_existing=True)
        if job is not None and job.status == JobStatus.RUNNING and job.claimed_by == self.name:
            record(job=job)
