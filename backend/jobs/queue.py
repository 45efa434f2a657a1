"""The job queue: add a job in the caller's transaction, claim due ones for a runner, record each
outcome, and the operator's view (dead letters, retry, discard).

- `enqueue` adds a job unless one with the same dedup key exists; it never commits.
- `claim` leases a batch of due jobs of the given kinds to one runner (`claim_due`: SKIP LOCKED on
  PostgreSQL), so several runners share the work and none runs a job twice; a runner that dies
  leaves its jobs to be claimed again when the lease ends.
- `succeeded`, `deferred` (not an attempt: a rate limit, a paused connection), `failed` (backoff
  doubling per attempt, capped; dead after JOBS_MAX_ATTEMPTS or at once when no retry can help).
"""

from __future__ import annotations

import uuid
from collections.abc import Iterable
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import delete, func, select, update

from backend.config import Settings
from backend.core.db import claim_due
from backend.core.errors import Conflict, NotFound
from backend.core.extensions import db
from backend.core.models import utcnow
from backend.jobs.models import Job, JobStatus

LEASE = timedelta(minutes=5)


def enqueue(
    kind: str,
    payload: dict[str, Any],
    *,
    dedup_key: str,
    school_id: uuid.UUID | None = None,
    run_at: datetime | None = None,
) -> Job | None:
    """Queue a job in the current transaction; None when the event already has one."""
    if db.session.scalar(select(Job.id).where(Job.dedup_key == dedup_key)) is not None:
        return None
    job = Job(
        school_id=school_id,
        kind=kind,
        dedup_key=dedup_key,
        payload=payload,
        status=JobStatus.QUEUED.value,
        attempts=0,
        next_attempt_at=run_at or utcnow(),
    )
    db.session.add(job)
    return job


def is_pending(dedup_key: str) -> bool:
    """Whether the job for this event is still to run (queued, or running)."""
    state = db.session.scalar(select(Job.status).where(Job.dedup_key == dedup_key))
    return state in (JobStatus.QUEUED.value, JobStatus.RUNNING.value)


def _due(now: datetime, kinds: Iterable[str]) -> Any:
    queued = (Job.status == JobStatus.QUEUED.value) & (Job.next_attempt_at <= now)
    abandoned = (Job.status == JobStatus.RUNNING.value) & (Job.claimed_until < now)
    return (queued | abandoned) & Job.kind.in_(list(kinds))


def claim(runner: str, kinds: Iterable[str], limit: int) -> list[Job]:
    """Up to `limit` due jobs of `kinds`, leased to `runner` (committed before they run)."""
    now = utcnow()
    lease = {"status": JobStatus.RUNNING.value, "claimed_by": runner, "claimed_until": now + LEASE}
    return claim_due(Job, _due(now, kinds), Job.next_attempt_at, lease, limit)


def start(job_id: uuid.UUID, runner: str) -> bool:
    """Renew the lease as the job starts (a batch's last job gets a whole lease too); False when
    the lease ran out and another runner holds the job now: this one leaves it alone."""
    result = db.session.execute(
        update(Job)
        .where(Job.id == job_id, Job.claimed_by == runner, Job.status == JobStatus.RUNNING.value)
        .values(claimed_until=utcnow() + LEASE)
    )
    db.session.commit()
    return bool(result.rowcount)  # type: ignore[attr-defined]  # a DML result has rowcount


def succeeded(job_id: uuid.UUID, runner: str) -> bool:
    """Done, committed with whatever the handler left uncommitted, while `runner` holds the job;
    False (and that work rolled back: the job's holder now does it) when another runner does."""
    result = db.session.execute(
        update(Job)
        .where(Job.id == job_id, Job.claimed_by == runner)
        .values(
            status=JobStatus.DONE.value,
            finished_at=utcnow(),
            attempts=Job.attempts + 1,
            claimed_by=None,
            claimed_until=None,
            last_error=None,
        )
        .execution_options(synchronize_session=False)
    )
    if not result.rowcount:  # type: ignore[attr-defined]  # a DML result has rowcount
        db.session.rollback()
        return False
    db.session.commit()
    return True


def deferred(job: Job, seconds: float, reason: str) -> None:
    """Back to the queue for `seconds`, without counting an attempt."""
    job.status, job.next_attempt_at = JobStatus.QUEUED.value, utcnow() + timedelta(seconds=seconds)
    job.claimed_by = job.claimed_until = None
    job.last_error = reason[:300]
    db.session.commit()


def backoff(settings: Settings, attempts: int) -> timedelta:
    seconds = settings.jobs_backoff_seconds * 2 ** (attempts - 1)
    return timedelta(seconds=min(seconds, settings.jobs_backoff_max_seconds))


def failed(settings: Settings, job: Job, error: str, *, final: bool = False) -> None:
    job.attempts += 1
    job.last_error = error[:300]
    job.claimed_by = job.claimed_until = None
    if final or job.attempts >= settings.jobs_max_attempts:
        job.status, job.finished_at = JobStatus.DEAD.value, utcnow()
    else:
        job.status = JobStatus.QUEUED.value
        job.next_attempt_at = utcnow() + backoff(settings, job.attempts)
    db.session.commit()


def wake(kinds: Iterable[str], school_id: uuid.UUID) -> int:
    """Queued jobs of a school (a connection was restored) become due now; how many."""
    result = db.session.execute(
        update(Job)
        .where(Job.school_id == school_id, Job.kind.in_(list(kinds)), Job.status == JobStatus.QUEUED.value)
        .values(next_attempt_at=utcnow())
    )
    return int(result.rowcount or 0)  # type: ignore[attr-defined]  # a DML result has rowcount


def forget_finished(kinds: Iterable[str], school_id: uuid.UUID) -> int:
    """Delete a school's finished (done, dead or discarded) jobs of `kinds`, so that their events
    can be queued again (their work must be done again: the accounting sync moved to another
    organisation)."""
    result = db.session.execute(
        delete(Job).where(
            Job.school_id == school_id,
            Job.kind.in_(list(kinds)),
            Job.status.in_((JobStatus.DONE.value, JobStatus.DEAD.value, JobStatus.DISCARDED.value)),
        )
    )
    return int(result.rowcount or 0)  # type: ignore[attr-defined]  # a DML result has rowcount


# --- the operators' view ---------------------------------------------------------------------------


def counts(*, school_id: uuid.UUID | None = None) -> dict[str, dict[str, int]]:
    """Jobs needing attention (queued, running, dead) by status and kind."""
    statement = (
        select(Job.status, Job.kind, func.count())
        .where(Job.status.in_((JobStatus.QUEUED.value, JobStatus.RUNNING.value, JobStatus.DEAD.value)))
        .group_by(Job.status, Job.kind)
    )
    if school_id is not None:
        statement = statement.where(Job.school_id == school_id)
    result: dict[str, dict[str, int]] = {}
    for state, kind, number in db.session.execute(statement):
        result.setdefault(state, {})[kind] = number
    return result


def dead_letters(limit: int = 100) -> list[Job]:
    return list(
        db.session.scalars(
            select(Job)
            .where(Job.status == JobStatus.DEAD.value)
            .order_by(Job.finished_at.desc())
            .limit(limit)
        )
    )


def _dead(job_id: uuid.UUID) -> Job:
    job = db.session.get(Job, job_id, with_for_update=True)
    if job is None:
        raise NotFound("Job not found.")
    if job.status != JobStatus.DEAD:
        raise Conflict(f"Only a dead job can be retried or discarded; this one is {job.status}.")
    return job


def retry(job_id: uuid.UUID) -> Job:
    """A dead job back in the queue, due now, with its attempts counted afresh."""
    job = _dead(job_id)
    job.status, job.attempts, job.next_attempt_at = JobStatus.QUEUED.value, 0, utcnow()
    job.finished_at = None
    return job


def discard(job_id: uuid.UUID) -> Job:
    job = _dead(job_id)
    job.status = JobStatus.DISCARDED.value
    return job
