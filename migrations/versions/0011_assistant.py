"""assistant: the knowledge base and its full-text search

Revision ID: 0011_assistant
Revises: 0010_doctor
Create Date: 2026-11-30 04:25:07

PostgreSQL searches a GIN index on the entries' English tsvector; SQLite an FTS5 table that three
triggers keep in step with the entries (porter stemming, so "absences" finds "absence"). Both are
kept outside the models (backend/assistant/models.py names them).
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0011_assistant"
down_revision: str | Sequence[str] | None = "0010_doctor"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

_PG_INDEX = (
    "CREATE INDEX ix_knowledge_entries_search ON knowledge_entries "
    "USING gin (to_tsvector('english', title || ' ' || body))"
)
_SQLITE_SEARCH = (
    "CREATE VIRTUAL TABLE knowledge_search USING fts5("
    "entry_id UNINDEXED, school_id UNINDEXED, audience UNINDEXED, title, body, "
    "tokenize = 'porter unicode61 remove_diacritics 2')",
    "CREATE TRIGGER knowledge_search_insert AFTER INSERT ON knowledge_entries BEGIN "
    "INSERT INTO knowledge_search (entry_id, school_id, audience, title, body) "
    "VALUES (new.id, new.school_id, new.audience, new.title, new.body); END",
    "CREATE TRIGGER knowledge_search_update AFTER UPDATE ON knowledge_entries BEGIN "
    "DELETE FROM knowledge_search WHERE entry_id = old.id; "
    "INSERT INTO knowledge_search (entry_id, school_id, audience, title, body) "
    "VALUES (new.id, new.school_id, new.audience, new.title, new.body); END",
    "CREATE TRIGGER knowledge_search_delete AFTER DELETE ON knowledge_entries BEGIN "
    "DELETE FROM knowledge_search WHERE entry_id = old.id; END",
)


def upgrade() -> None:
    op.create_table(
        "knowledge_entries",
        sa.Column("kind", sa.String(length=16), nullable=False),
        sa.Column("title", sa.String(length=200), nullable=False),
        sa.Column("body", sa.Text(), nullable=False),
        sa.Column("audience", sa.String(length=16), nullable=False),
        sa.Column("updated_by", sa.Uuid(), nullable=False),
        sa.Column("id", sa.Uuid(), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("school_id", sa.Uuid(), nullable=False),
        sa.CheckConstraint("audience IN ('everyone', 'staff')", name=op.f("ck_knowledge_entries_audience")),
        sa.CheckConstraint("kind IN ('faq', 'policy', 'howto')", name=op.f("ck_knowledge_entries_kind")),
        sa.ForeignKeyConstraint(
            ["school_id"],
            ["schools.id"],
            name=op.f("fk_knowledge_entries_school_id_schools"),
            ondelete="RESTRICT",
        ),
        sa.ForeignKeyConstraint(
            ["updated_by"],
            ["users.id"],
            name=op.f("fk_knowledge_entries_updated_by_users"),
            ondelete="RESTRICT",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_knowledge_entries")),
        sa.UniqueConstraint("school_id", "title", name=op.f("uq_knowledge_entries_school_id_title")),
    )
    if op.get_bind().dialect.name == "postgresql":
        op.execute(_PG_INDEX)
    else:
        for statement in _SQLITE_SEARCH:
            op.execute(statement)


def downgrade() -> None:
    if op.get_bind().dialect.name == "postgresql":
        op.execute("DROP INDEX IF EXISTS ix_knowledge_entries_search")
    else:
        for trigger in ("knowledge_search_insert", "knowledge_search_update", "knowledge_search_delete"):
            op.execute(f"DROP TRIGGER IF EXISTS {trigger}")
        op.execute("DROP TABLE IF EXISTS knowledge_search")
    op.drop_table("knowledge_entries")
