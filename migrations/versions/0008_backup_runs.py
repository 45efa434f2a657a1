"""backup runs: the log of every backup create, upload, verify, restore and prune

Revision ID: 0008_backup_runs
Revises: 0007_audit_wipes
Create Date: 2026-11-30 02:00:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0008_backup_runs"
down_revision: str | Sequence[str] | None = "0007_audit_wipes"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "backup_runs",
        sa.Column("kind", sa.String(length=16), nullable=False),
        sa.Column("status", sa.String(length=16), nullable=False),
        sa.Column("started_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("finished_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("duration_ms", sa.Integer(), nullable=False),
        sa.Column("file", sa.String(length=255), nullable=True),
        sa.Column("bytes", sa.BigInteger(), nullable=True),
        sa.Column("checksum", sa.String(length=64), nullable=True),
        sa.Column("error", sa.Text(), nullable=True),
        sa.Column("details", sa.JSON(), nullable=True),
        sa.Column("id", sa.Uuid(), nullable=False),
        sa.CheckConstraint(
            "kind IN ('create', 'upload', 'verify', 'restore', 'prune')", name=op.f("ck_backup_runs_kind")
        ),
        sa.CheckConstraint("status IN ('ok', 'failed')", name=op.f("ck_backup_runs_status")),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_backup_runs")),
    )
    with op.batch_alter_table("backup_runs", schema=None) as batch_op:
        batch_op.create_index(
            "ix_backup_runs_kind_status_finished_at", ["kind", "status", "finished_at"], unique=False
        )


def downgrade() -> None:
    with op.batch_alter_table("backup_runs", schema=None) as batch_op:
        batch_op.drop_index("ix_backup_runs_kind_status_finished_at")
    op.drop_table("backup_runs")
