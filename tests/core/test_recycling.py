"""Workers retire after GUNICORN_MAX_REQUESTS one at a time: they see the same traffic and reach
their limits together, and were all to retire at once nothing would accept connections (not even
/health) until their replacements booted. Measured before this: /health waited 3.7 s at 400 users."""

from __future__ import annotations

import pytest

from backend.core import serving
from backend.core.gunicorn_worker import DrainingThreadWorker


@pytest.fixture(autouse=True)
def no_one_retiring() -> None:
    serving._recycling_until.value = 0.0


def _worker(limit: int) -> DrainingThreadWorker:
    worker = object.__new__(DrainingThreadWorker)  # the retirement rule, without a Gunicorn arbiter
    worker.nr = 0
    worker.max_requests = limit
    return worker


def test_one_claim_at_a_time_until_the_hold_ends() -> None:
    assert serving.claim_recycle(1000.0, hold=15)
    assert not serving.claim_recycle(1010.0, hold=15)
    assert serving.claim_recycle(1015.5, hold=15)


def test_a_worker_at_its_limit_waits_while_another_retires() -> None:
    first, second = _worker(100), _worker(100)
    first.nr = second.nr = 99
    assert first.nr < first.max_requests and second.nr < second.max_requests  # under the limit
    first.nr = second.nr = 100
    assert first.nr >= first.max_requests  # the first to ask retires
    assert second.nr < second.max_requests  # the second keeps serving, and asks again next time
    second.nr = 101
    assert second.nr < second.max_requests
    assert first.nr >= first.max_requests  # a claim is kept: the first still retires


def test_after_the_hold_the_next_worker_retires() -> None:
    serving._recycling_until.value = 1.0  # an earlier retirement, long over
    worker = _worker(10)
    worker.nr = 10
    assert worker.nr >= worker.max_requests


def test_a_retired_worker_lets_the_next_one_go_at_once() -> None:
    assert serving.claim_recycle(1000.0, hold=15)
    serving.end_recycle()  # its last requests are done
    assert serving.claim_recycle(1001.0, hold=15)
