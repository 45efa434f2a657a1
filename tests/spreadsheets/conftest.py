"""The small school of tests/school.py, reused for imports and exports."""

from __future__ import annotations

from typing import Any

from tests.school import World, world  # noqa: F401  (the fixture, reused)

HEADER = "admission_number,first_name,last_name,date_of_birth,grade_level,enrolled_on"


def students_csv(count: int, *, start: int = 1, bad: dict[int, str] | None = None) -> str:
    """`count` student rows (S-0001 ...), with `bad` replacing whole rows by number (2 = first)."""
    lines = [HEADER]
    for n in range(start, start + count):
        lines.append(f"S-{n:04d},First{n},Last{n},2015-0{1 + n % 9}-1{n % 10},{n % 12},2024-09-0{1 + n % 8}")
    for row, text in (bad or {}).items():
        lines[row - 1] = text
    return "\r\n".join(lines) + "\r\n"


def post_csv(w: World, kind: str, text: str | bytes, who: str = "admin", **query: Any) -> Any:
    data = text.encode() if isinstance(text, str) else text
    return w.client.post(
        f"/api/imports/{kind}", data=data, content_type="text/csv", query_string=query, headers=w.as_(who)
    )
