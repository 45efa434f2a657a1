"""/api/assistant: questions, page help, the domains, the knowledge base; and a student's "Ask"."""

from __future__ import annotations

import uuid

from flask import url_for

from backend.assistant import bp, knowledge, service, student_bp
from backend.assistant.catalogue import Domain
from backend.assistant.models import KnowledgeEntry
from backend.assistant.schemas import (
    AnswerOut,
    DomainOut,
    HelpIn,
    HelpOut,
    KnowledgeIn,
    KnowledgeListQuery,
    KnowledgeOut,
    KnowledgeUpdateIn,
    MessageIn,
    StudentMessageIn,
)
from backend.core.api import Headers, api
from backend.core.idempotency import idempotent
from backend.core.markers import rate_limit
from backend.core.pagination import Items, Page
from backend.core.ratelimit import setting_limit
from backend.tenancy import current_auth, requires

ASSISTANT_LIMIT = setting_limit("assistant_rate_limit")


@bp.post("/messages")
@requires("assistant.use")
@rate_limit(ASSISTANT_LIMIT)
@api(body=MessageIn, response=AnswerOut, problems=(404, 429))
def ask(body: MessageIn) -> AnswerOut:
    """Ask a question; answered from the data the caller may see (`mode` says how it was phrased)."""
    return service.ask(current_auth(), body.message, student_id=body.student_id, page=body.page)


@bp.post("/help")
@requires("assistant.use")
@rate_limit(ASSISTANT_LIMIT)
@api(body=HelpIn, response=HelpOut, problems=(429,))
def page_help(body: HelpIn) -> HelpOut:
    """Help for a page of the web app: what the caller's role may do there, and how."""
    return service.page_help(current_auth(), body.page)


@bp.get("/domains")
@requires("assistant.use")
@api(response=Items[DomainOut])
def list_domains() -> Items[Domain]:
    """What the caller can ask about, with sample questions."""
    return Items(service.domains(current_auth()))


@student_bp.post("/<uuid:student_id>/assistant")
@requires("assistant.use")
@rate_limit(ASSISTANT_LIMIT)
@api(body=StudentMessageIn, response=AnswerOut, problems=(404, 429))
def ask_about_student(student_id: uuid.UUID, body: StudentMessageIn) -> AnswerOut:
    """Ask about one student (404 when the caller may not see them)."""
    return service.ask(current_auth(), body.message, student_id=student_id, page="student")


# --- the knowledge base ------------------------------------------------------------------------


@bp.get("/knowledge")
@requires("knowledge.read")
@api(query=KnowledgeListQuery, response=Page[KnowledgeOut])
def list_knowledge(query: KnowledgeListQuery) -> Page[KnowledgeEntry]:
    """The school's entries by title, or the best matches for `q` (parents: entries for everyone)."""
    return knowledge.list_entries(current_auth(), query)


@bp.post("/knowledge")
@requires("knowledge.manage")
@idempotent
@api(body=KnowledgeIn, response=KnowledgeOut, status=201, problems=(409,))
def create_knowledge(body: KnowledgeIn) -> tuple[KnowledgeEntry, Headers]:
    """Add an FAQ, policy or how-to entry."""
    entry = knowledge.create_entry(current_auth(), body)
    return entry, {"Location": url_for("assistant.get_knowledge", entry_id=entry.id)}


@bp.get("/knowledge/<uuid:entry_id>")
@requires("knowledge.read")
@api(response=KnowledgeOut)
def get_knowledge(entry_id: uuid.UUID) -> KnowledgeEntry:
    """One entry."""
    return knowledge.get_entry(current_auth(), entry_id)


@bp.patch("/knowledge/<uuid:entry_id>")
@requires("knowledge.manage")
@api(body=KnowledgeUpdateIn, response=KnowledgeOut, problems=(409,))
def update_knowledge(entry_id: uuid.UUID, body: KnowledgeUpdateIn) -> KnowledgeEntry:
    """Change an entry."""
    return knowledge.update_entry(current_auth(), entry_id, body)


@bp.delete("/knowledge/<uuid:entry_id>")
@requires("knowledge.manage")
@api(status=204)
def delete_knowledge(entry_id: uuid.UUID) -> None:
    """Remove an entry."""
    knowledge.delete_entry(current_auth(), entry_id)
