"""platform operators: users in no school, with the role operator

Revision ID: 0009_operators
Revises: 0008_backup_runs
Create Date: 2026-11-30 02:05:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0009_operators"
down_revision: str | Sequence[str] | None = "0008_backup_runs"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    with op.batch_alter_table("users", schema=None) as batch_op:
        batch_op.alter_column("school_id", existing_type=sa.Uuid(), nullable=True)
        batch_op.drop_constraint(op.f("ck_users_role"), type_="check")
        batch_op.create_check_constraint("role", "role IN ('admin', 'teacher', 'parent', 'operator')")
        batch_op.create_check_constraint(
            "operator_has_no_school", "(role = 'operator') = (school_id IS NULL)"
        )


def downgrade() -> None:
    op.execute("DELETE FROM users WHERE role = 'operator'")
    with op.batch_alter_table("users", schema=None) as batch_op:
        batch_op.drop_constraint(op.f("ck_users_operator_has_no_school"), type_="check")
        batch_op.drop_constraint(op.f("ck_users_role"), type_="check")
        batch_op.create_check_constraint("role", "role IN ('admin', 'teacher', 'parent')")
        batch_op.alter_column("school_id", existing_type=sa.Uuid(), nullable=False)
