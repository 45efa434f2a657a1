"""What the report-card tests share: a scale, graded assessments, publishing, the outbox."""

from __future__ import annotations

import shutil
import subprocess
import uuid
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import select

from backend.core.extensions import db
from backend.mail.models import MailKind, OutboxMessage
from tests.school import World, make_assessment, put_grades

LETTERS = [
    {"min": 90, "label": "A*"},
    {"min": 80, "label": "A"},
    {"min": 70, "label": "B"},
    {"min": 60, "label": "C"},
    {"min": 50, "label": "D"},
    {"min": 0, "label": "U"},
]


def make_scale(world: World, name: str = "Letters", *, default: bool = True, **fields: Any) -> dict[str, Any]:
    body = {"name": name, "bands": LETTERS, "decimals": 1, "is_default": default} | fields
    response = world.client.post("/api/grade-scales", json=body, headers=world.as_("admin"))
    assert response.status_code == 201, response.get_json()
    return dict(response.get_json())


def graded_maths(world: World, scores: list[tuple[str, Any, float | None]], **fields: Any) -> str:
    """A published maths assessment and Alice's grade in it: (status, score, weight)."""
    ids = []
    for status, score, weight in scores:
        assessment = make_assessment(world, published=True, weight=weight or 1, **fields)
        entry: dict[str, Any] = {"student_id": str(world.ids["alice"]), "status": status}
        if score is not None:
            entry["score"] = score
        assert put_grades(world, assessment, [entry]).status_code == 200
        ids.append(assessment)
    return ids[-1]


def publish(world: World, scope: str = "school", who: str = "admin", **target: Any) -> Any:
    return world.client.post(
        f"/api/terms/{world.ids['term']}/report-cards/publish",
        json={"scope": scope, **target},
        headers=world.as_(who),
    )


def report_mail(world: World) -> list[OutboxMessage]:
    with world.app.app_context():
        rows = db.session.scalars(
            select(OutboxMessage)
            .where(OutboxMessage.kind == MailKind.REPORT_CARD.value)
            .order_by(OutboxMessage.created_at)
        ).all()
        db.session.expunge_all()
        return list(rows)


def poppler(tool: str) -> str:
    """The tool's path; failing (as the suite does for every system tool) when it is missing."""
    binary = shutil.which(tool)
    if binary is None:
        pytest.fail(f"{tool} is not installed (scripts/test.sh installs poppler-utils with apt-get)")
    return binary


def text_of(pdf: bytes, tmp_path: Path) -> str:
    """The PDF's text as poppler's pdftotext reads it, laid out."""
    path = tmp_path / f"{uuid.uuid4()}.pdf"
    path.write_bytes(pdf)
    run = subprocess.run(
        [poppler("pdftotext"), "-layout", "-enc", "UTF-8", str(path), "-"],
        capture_output=True,
        check=True,
        timeout=60,
    )
    return run.stdout.decode()


def flat(text: str) -> str:
    """pdftotext's lines joined with single spaces (a wrapped comment reads as one)."""
    return " ".join(text.split())
