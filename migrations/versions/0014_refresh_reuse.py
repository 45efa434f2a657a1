"""refresh reuse: a rotated refresh token keeps its successor, sealed, for the reuse interval

Revision ID: 0014_refresh_reuse
Revises: 0013_row_security
Create Date: 2026-12-02 14:15:00

`refresh_tokens.successor_sealed`: the token that replaced this one, encrypted under a key derived
from this token (`backend/auth/tokens.py: seal_successor`), so that the same token presented again
within REFRESH_REUSE_SECONDS (two tabs, a retried request) is answered with the same new token.
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0014_refresh_reuse"
down_revision: str | Sequence[str] | None = "0013_row_security"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    with op.batch_alter_table("refresh_tokens", schema=None) as batch_op:
        batch_op.add_column(sa.Column("successor_sealed", sa.Text(), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("refresh_tokens", schema=None) as batch_op:
        batch_op.drop_column("successor_sealed")
