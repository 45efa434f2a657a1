"""schema doctor: scans, fixes and the switch that stops fixing

Revision ID: 0010_doctor
Revises: 0009_operators
Create Date: 2026-11-30 02:06:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0010_doctor"
down_revision: str | Sequence[str] | None = "0009_operators"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "doctor_scans",
        sa.Column("started_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("finished_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("trigger", sa.String(length=16), nullable=False),
        sa.Column("status", sa.String(length=16), nullable=False),
        sa.Column("issues", sa.JSON(), nullable=False),
        sa.Column("draft", sa.String(length=255), nullable=True),
        sa.Column("error", sa.Text(), nullable=True),
        sa.Column("id", sa.Uuid(), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_doctor_scans")),
    )
    with op.batch_alter_table("doctor_scans", schema=None) as batch_op:
        batch_op.create_index("ix_doctor_scans_started_at", ["started_at"], unique=False)
    op.create_table(
        "doctor_fixes",
        sa.Column("issue_id", sa.String(length=255), nullable=False),
        sa.Column("trigger", sa.String(length=16), nullable=False),
        sa.Column("actor_id", sa.Uuid(), nullable=True),
        sa.Column("statements", sa.JSON(), nullable=False),
        sa.Column("status", sa.String(length=16), nullable=False),
        sa.Column("error", sa.Text(), nullable=True),
        sa.Column("backup_file", sa.String(length=255), nullable=True),
        sa.Column("resolved", sa.Boolean(), nullable=False),
        sa.Column("started_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("finished_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("id", sa.Uuid(), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_doctor_fixes")),
    )
    with op.batch_alter_table("doctor_fixes", schema=None) as batch_op:
        batch_op.create_index(
            "ix_doctor_fixes_issue_id_finished_at", ["issue_id", "finished_at"], unique=False
        )
    op.create_table(
        "doctor_switch",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("fixes_enabled", sa.Boolean(), nullable=False),
        sa.Column("changed_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("changed_by", sa.Uuid(), nullable=True),
        sa.CheckConstraint("id = 1", name=op.f("ck_doctor_switch_single_row")),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_doctor_switch")),
    )


def downgrade() -> None:
    op.drop_table("doctor_switch")
    with op.batch_alter_table("doctor_fixes", schema=None) as batch_op:
        batch_op.drop_index("ix_doctor_fixes_issue_id_finished_at")
    op.drop_table("doctor_fixes")
    with op.batch_alter_table("doctor_scans", schema=None) as batch_op:
        batch_op.drop_index("ix_doctor_scans_started_at")
    op.drop_table("doctor_scans")
