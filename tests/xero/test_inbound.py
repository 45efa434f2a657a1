"""Reading Xero's dates: its JSON `/Date(ms+zone)/` form, ISO dates, and anything else."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest

from backend.xero.inbound import _xero_date


@pytest.mark.parametrize(
    ("sent", "read"),
    [
        ("/Date(1764720000000+0000)/", datetime(2025, 12, 3, tzinfo=UTC)),
        ("/Date(1764720000000)/", datetime(2025, 12, 3, tzinfo=UTC)),
        ("2026-12-01T00:00:00", datetime(2026, 12, 1, tzinfo=UTC)),
        ("2026-12-01", datetime(2026, 12, 1, tzinfo=UTC)),
    ],
)
def test_xero_dates_are_read_in_utc(sent: str, read: datetime) -> None:
    assert _xero_date(sent) == read


@pytest.mark.parametrize("sent", ["/Date(abc)/", "/Date(99999999999999999999)/", "", None, "tomorrow"])
def test_a_date_xero_never_sends_is_taken_as_now(sent: object) -> None:
    before = datetime.now(UTC)
    assert before <= _xero_date(sent) <= datetime.now(UTC)
