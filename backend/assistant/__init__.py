"""The assistant: answers for parents, teachers and admins from the data each may see, through a
language model when one is configured and answers offline from the same facts when not."""

from __future__ import annotations

from typing import Any

from flask import Blueprint, Flask

from backend.assistant.evaluation import Case as EvaluationCase
from backend.assistant.evaluation import Result as EvaluationResult
from backend.assistant.evaluation import cases as evaluation_cases
from backend.assistant.evaluation import judge
from backend.assistant.evaluation import report as evaluation_report
from backend.assistant.models import Audience, KnowledgeEntry, KnowledgeKind
from backend.config import Settings

__all__ = [
    "Audience",
    "EvaluationCase",
    "EvaluationResult",
    "KnowledgeEntry",
    "KnowledgeKind",
    "evaluation_cases",
    "evaluation_report",
    "init_app",
    "judge",
]

bp = Blueprint("assistant", __name__, url_prefix="/api/assistant")
# "Ask about this student" lives under the student it is about.
student_bp = Blueprint("assistant_students", __name__, url_prefix="/api/students")


def check_knowledge_base(app: Flask) -> dict[str, Any]:
    """`/api/health`: the knowledge base's search objects exist (a failed query is `down`)."""
    from backend.assistant.knowledge import search_objects_present

    present = search_objects_present()
    missing = sorted(name for name, found in present.items() if not found)
    return {"status": "down", "missing": missing} if missing else {}


def init_app(app: Flask, settings: Settings) -> None:
    from backend.assistant import routes  # noqa: F401  (registers the views)
    from backend.assistant.provider import check_model, init_model
    from backend.probes import register_check

    app.register_blueprint(bp)
    app.register_blueprint(student_bp)
    init_model(app, settings)
    register_check(app, "assistant_model", check_model, critical=False)
    register_check(app, "knowledge_base", check_knowledge_base, critical=False)
