"""How the load suite classifies a client's error (bench/load/report.py): a fault's own errors are
expected, shedding is shed, anything else is unexpected and fails the run."""

from __future__ import annotations

from typing import Any

import pytest

from bench.load.chaos import Fault
from bench.load.report import classify

PG_CUT = Fault("pg", start=100.0, end=105.0, detail="PostgreSQL path reset for 5 s")


def _request(t: float, kind: str, **extra: Any) -> dict[str, Any]:
    return {"t": t, "kind": kind, "name": "POST /api/invoices/{id}/issue", **extra}


@pytest.mark.parametrize(
    ("request_", "expected"),
    [
        (_request(106.0, "http_409", attempt=2), "expected"),  # the retry after a COMMIT that landed
        (_request(106.0, "http_409", attempt=1), "unexpected"),  # a first try: a real conflict
        (_request(130.0, "http_409", attempt=2), "unexpected"),  # no cut to explain it
        (_request(102.0, "http_503", retry_after=True, problem=True), "expected"),
        (_request(130.0, "http_503", retry_after=True, problem=True), "shed"),
        (_request(102.0, "http_500"), "unexpected"),
    ],
)
def test_a_conflict_is_expected_only_for_a_retry_while_the_database_path_is_cut(
    request_: dict[str, Any], expected: str
) -> None:
    assert classify(request_, [PG_CUT], grace=10.0) == expected
