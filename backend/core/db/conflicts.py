"""Unique-key races: an idempotent upsert that lost the race to create its row runs once more
(`retry_on_conflict`), and a create whose own uniqueness check lost it answers 409
(`commit_unique`)."""

from __future__ import annotations

from collections.abc import Callable
from functools import wraps
from typing import ParamSpec, TypeVar

import structlog
from sqlalchemy.exc import IntegrityError

from backend.core.errors import Conflict, is_unique_violation
from backend.core.extensions import db

P = ParamSpec("P")
R = TypeVar("R")
log = structlog.get_logger("homeroom.db")


def retry_on_conflict(service: Callable[P, R]) -> Callable[P, R]:
    """For idempotent upserts (create the row, or update it): when a concurrent request created the
    row first, the insert hits the unique key. Roll back and run once more: the row is now there,
    and the second run updates it. Any other error, or a second conflict, goes on up."""

    @wraps(service)
    def upsert(*args: P.args, **kwargs: P.kwargs) -> R:
        try:
            return service(*args, **kwargs)
        except IntegrityError as error:
            if not is_unique_violation(error):
                raise
            db.session.rollback()
            log.info("upsert_retried", service=service.__qualname__)
            return service(*args, **kwargs)

    return upsert


def commit_unique(conflict_message: str) -> None:
    """Commit; a unique-constraint violation (a race the service's own check lost) becomes a 409."""
    try:
        db.session.commit()
    except IntegrityError:
        db.session.rollback()
        raise Conflict(conflict_message) from None
