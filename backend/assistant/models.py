"""The school's knowledge base: FAQ, policy and how-to entries the assistant answers from.

Full-text search lives outside the model (see `backend/assistant/knowledge.py`): a GIN index on
PostgreSQL and an FTS5 table kept by triggers on SQLite, both made by migration 0011.
"""

from __future__ import annotations

import uuid
from enum import StrEnum

from sqlalchemy import CheckConstraint, ForeignKey, String, Text, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from backend.core.db import keep_outside_models
from backend.core.models import Base, TenantOwned, Timestamps, UUIDPrimaryKey, enum_check


class KnowledgeKind(StrEnum):
    FAQ = "faq"
    POLICY = "policy"
    HOWTO = "howto"


class Audience(StrEnum):
    EVERYONE = "everyone"
    STAFF = "staff"


class KnowledgeEntry(UUIDPrimaryKey, Timestamps, TenantOwned, Base):
    __tablename__ = "knowledge_entries"
    __table_args__ = (
        UniqueConstraint("school_id", "title"),
        CheckConstraint(enum_check("kind", KnowledgeKind), name="kind"),
        CheckConstraint(enum_check("audience", Audience), name="audience"),
    )

    kind: Mapped[str] = mapped_column(String(16))
    title: Mapped[str] = mapped_column(String(200))
    body: Mapped[str] = mapped_column(Text)
    audience: Mapped[str] = mapped_column(String(16), default=Audience.EVERYONE.value)
    updated_by: Mapped[uuid.UUID] = mapped_column(ForeignKey("users.id", ondelete="RESTRICT"))


# The search index of each engine, made by migration 0011 (names shared with knowledge.py).
SEARCH_INDEX = "ix_knowledge_entries_search"  # PostgreSQL: GIN on the entries' tsvector
SEARCH_TABLE = "knowledge_search"  # SQLite: FTS5 table (and its knowledge_search_* shadow tables)
SEARCH_TRIGGERS = ("knowledge_search_insert", "knowledge_search_update", "knowledge_search_delete")
keep_outside_models(Base.metadata, SEARCH_INDEX, SEARCH_TABLE, *SEARCH_TRIGGERS)
