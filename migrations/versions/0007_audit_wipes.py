"""audit trail: TRUNCATE refused, chain heads kept, and the purge recorded per chain

Revision ID: 0007_audit_wipes
Revises: 0006_health
Create Date: 2026-11-22 06:30:00

Row triggers stop UPDATE and early DELETE of events, but TRUNCATE bypasses row triggers: it is
refused by a statement trigger on PostgreSQL (SQLite has no TRUNCATE; a DELETE runs the row
triggers). Chain heads may be updated (each append advances one) but never deleted or truncated.
`purged_through` records the last event a purge deleted from each chain, so that `audit verify`
can tell a purged chain from a wiped one.
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0007_audit_wipes"
down_revision: str | Sequence[str] | None = "0006_health"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

GUARDS = {
    "postgresql": [
        """
        CREATE FUNCTION audit_no_wipe() RETURNS trigger LANGUAGE plpgsql AS $$
        BEGIN
            RAISE EXCEPTION '% is append-only: % is not allowed', TG_TABLE_NAME, TG_OP;
        END $$
        """,
        "CREATE TRIGGER audit_events_no_truncate BEFORE TRUNCATE ON audit_events "
        "FOR EACH STATEMENT EXECUTE FUNCTION audit_no_wipe()",
        "CREATE TRIGGER audit_chain_heads_no_truncate BEFORE TRUNCATE ON audit_chain_heads "
        "FOR EACH STATEMENT EXECUTE FUNCTION audit_no_wipe()",
        "CREATE TRIGGER audit_chain_heads_no_delete BEFORE DELETE ON audit_chain_heads "
        "FOR EACH ROW EXECUTE FUNCTION audit_no_wipe()",
    ],
    "sqlite": [
        """
        CREATE TRIGGER audit_chain_heads_no_delete BEFORE DELETE ON audit_chain_heads
        BEGIN SELECT RAISE(ABORT, 'audit_chain_heads is append-only: DELETE is not allowed'); END
        """,
    ],
}
DROP_GUARDS = {
    "postgresql": [
        "DROP TRIGGER IF EXISTS audit_chain_heads_no_delete ON audit_chain_heads",
        "DROP TRIGGER IF EXISTS audit_chain_heads_no_truncate ON audit_chain_heads",
        "DROP TRIGGER IF EXISTS audit_events_no_truncate ON audit_events",
        "DROP FUNCTION IF EXISTS audit_no_wipe()",
    ],
    "sqlite": ["DROP TRIGGER IF EXISTS audit_chain_heads_no_delete"],
}


def upgrade() -> None:
    with op.batch_alter_table("audit_chain_heads") as batch:
        batch.add_column(sa.Column("purged_through", sa.BigInteger(), nullable=False, server_default="0"))
    # Chains purged before this revision: everything before their oldest kept event was purged.
    op.execute(
        "UPDATE audit_chain_heads SET purged_through = COALESCE((SELECT min(seq) - 1 FROM audit_events "
        "WHERE audit_events.chain_id = audit_chain_heads.chain_id), seq)"
    )
    for statement in GUARDS[op.get_bind().dialect.name]:
        op.execute(statement)


def downgrade() -> None:
    for statement in DROP_GUARDS[op.get_bind().dialect.name]:
        op.execute(statement)
    with op.batch_alter_table("audit_chain_heads") as batch:
        batch.drop_column("purged_through")
