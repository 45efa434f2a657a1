"""The knowledge base: admins write entries; everyone in the school reads those meant for them.

Search is each engine's full-text search, through objects migration 0011 made outside the models:
PostgreSQL's English tsvector (a GIN index on title and body) and SQLite's FTS5 table with porter
stemming, kept in step by triggers. A question becomes an OR of its meaningful words, ranked by
relevance (ts_rank, bm25), so "how do I report an absence?" finds "Reporting absences".
"""

from __future__ import annotations

import re
import uuid
from typing import Any

from sqlalchemy import ColumnElement, Select, column, func, literal_column, text, true

from backend import audit
from backend.assistant.models import SEARCH_INDEX, SEARCH_TABLE, SEARCH_TRIGGERS, Audience, KnowledgeEntry
from backend.assistant.schemas import KnowledgeIn, KnowledgeListQuery, KnowledgeUpdateIn
from backend.core.db import commit_unique
from backend.core.errors import NotFound
from backend.core.extensions import db
from backend.core.pagination import Page, keyset, page_of
from backend.tenancy import AuthContext, Role

FIELDS = ("kind", "title", "body", "audience")
STOP_WORDS = frozenset(
    " ".join(
        (
            "a an and are as at be can do does for from has have how i if in is it me my of on or our",
            "should the their there this to was what when where which who why will with you your",
        )
    ).split()
)
MAX_TERMS = 12


def _readable(auth: AuthContext) -> ColumnElement[bool]:
    return true() if auth.role != Role.PARENT else KnowledgeEntry.audience == Audience.EVERYONE.value


def _terms(question: str) -> list[str]:
    """The question's searchable words: letters and digits only (no search syntax gets through)."""
    words = [w for w in re.findall(r"[a-z0-9]+", question.lower()) if w not in STOP_WORDS and len(w) > 1]
    return list(dict.fromkeys(words))[:MAX_TERMS]


def _matching(auth: AuthContext, terms: list[str]) -> Select[Any]:
    """The caller's readable entries matching any term, most relevant first."""
    base = auth.scoped(KnowledgeEntry).where(_readable(auth))
    if db.session.get_bind().dialect.name == "postgresql":
        document = func.to_tsvector(
            literal_column("'english'"),
            KnowledgeEntry.title.op("||")(literal_column("' '")).op("||")(KnowledgeEntry.body),
        )
        query = func.to_tsquery(literal_column("'english'"), " | ".join(terms))
        return base.where(document.op("@@")(query)).order_by(
            func.ts_rank(document, query).desc(), KnowledgeEntry.id
        )
    search = text(
        "SELECT entry_id, bm25(knowledge_search) AS rank "
        "FROM knowledge_search WHERE knowledge_search MATCH :match"
    )
    match = " OR ".join(f'"{term}"' for term in terms)
    hits = search.bindparams(match=match).columns(column("entry_id"), column("rank")).subquery()
    return base.join(hits, hits.c.entry_id == KnowledgeEntry.id).order_by(hits.c.rank, KnowledgeEntry.id)


def search(auth: AuthContext, question: str, limit: int = 3) -> list[KnowledgeEntry]:
    terms = _terms(question)
    if not terms:
        return []
    return list(db.session.scalars(_matching(auth, terms).limit(limit)))


def list_entries(auth: AuthContext, query: KnowledgeListQuery) -> Page[KnowledgeEntry]:
    if query.q is not None:  # relevance order: one page of the best matches
        found = search(auth, query.q, limit=query.limit)
        return Page([e for e in found if query.kind is None or e.kind == query.kind], None)
    statement = auth.scoped(KnowledgeEntry).where(_readable(auth))
    if query.kind is not None:
        statement = statement.where(KnowledgeEntry.kind == query.kind.value)
    rows = db.session.scalars(keyset(statement, (KnowledgeEntry.title, KnowledgeEntry.id), query)).all()
    return page_of(rows, query, lambda e: [e.title, e.id])


def get_entry(auth: AuthContext, entry_id: uuid.UUID) -> KnowledgeEntry:
    entry = db.session.scalar(
        auth.scoped(KnowledgeEntry).where(KnowledgeEntry.id == entry_id, _readable(auth))
    )
    if entry is None:
        raise NotFound("Knowledge entry not found.")
    return entry


def create_entry(auth: AuthContext, data: KnowledgeIn) -> KnowledgeEntry:
    values = data.model_dump(mode="json")
    entry = KnowledgeEntry(school_id=auth.school_id, updated_by=auth.user_id, **values)
    db.session.add(entry)
    audit.record(auth, "knowledge.create", resource=entry, resource_type="knowledge_entry", changes=values)
    commit_unique(f"An entry titled {data.title!r} already exists.")
    return entry


def update_entry(auth: AuthContext, entry_id: uuid.UUID, data: KnowledgeUpdateIn) -> KnowledgeEntry:
    entry = auth.get_scoped(KnowledgeEntry, entry_id, "Knowledge entry")
    before = audit.snapshot(entry, FIELDS)
    for name, value in data.model_dump(mode="json", exclude_unset=True).items():
        setattr(entry, name, value)
    if changes := audit.diff(before, audit.snapshot(entry, FIELDS)):
        entry.updated_by = auth.user_id
        audit.record(
            auth, "knowledge.update", resource=entry, resource_type="knowledge_entry", changes=changes
        )
    commit_unique(f"An entry titled {entry.title!r} already exists.")
    return entry


def delete_entry(auth: AuthContext, entry_id: uuid.UUID) -> None:
    entry = auth.get_scoped(KnowledgeEntry, entry_id, "Knowledge entry")
    audit.record(
        auth,
        "knowledge.delete",
        resource=entry,
        resource_type="knowledge_entry",
        changes={"title": entry.title},
    )
    db.session.delete(entry)
    db.session.commit()


def search_objects_present() -> dict[str, bool]:
    """Whether the engine's search objects exist (the knowledge base's health check)."""
    if db.session.get_bind().dialect.name == "postgresql":
        found = db.session.scalars(
            text("SELECT indexname FROM pg_indexes WHERE indexname = :name"), {"name": SEARCH_INDEX}
        )
        return {SEARCH_INDEX: found.first() is not None}
    names = set(db.session.scalars(text("SELECT name FROM sqlite_master WHERE type IN ('table', 'trigger')")))
    return {name: name in names for name in (SEARCH_TABLE, *SEARCH_TRIGGERS)}
