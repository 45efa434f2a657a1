"""row security: PostgreSQL keeps each school's rows to that school

Revision ID: 0013_row_security
Revises: 0012_mail
Create Date: 2026-12-02 13:00:00

Creates DB_APP_ROLE (a role that owns nothing and cannot bypass row security) if it is missing,
lets the schema owner (who runs the migrations) act as it, grants it the data, and puts every
tenant-owned table under a policy admitting only the connection's school (`app.school_id`) or a
named platform task (`app.platform`). SQLite has no row security: nothing to do there.
"""

from collections.abc import Sequence

from alembic import op

from backend.config import current_settings
from backend.core.db import app_role_sql, disable_sql, enable_sql

revision: str = "0013_row_security"
down_revision: str | Sequence[str] | None = "0012_mail"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

# The tables whose model is TenantOwned when this revision was written (a later tenant table's
# migration calls enable_sql itself; tests/core/test_row_security.py checks none is missed).
TENANT_TABLES = (
    "assessments",
    "attendance_records",
    "classes",
    "enrollments",
    "grades",
    "guardian_links",
    "health_records",
    "idempotency_keys",
    "invoice_lines",
    "invoices",
    "knowledge_entries",
    "payment_reversals",
    "payments",
    "students",
    "terms",
)


def upgrade() -> None:
    if op.get_bind().dialect.name != "postgresql":
        return
    for statement in app_role_sql(current_settings().db_app_role):
        op.execute(statement)
    for table in TENANT_TABLES:
        for statement in enable_sql(table):
            op.execute(statement)


def downgrade() -> None:
    if op.get_bind().dialect.name != "postgresql":
        return
    for table in TENANT_TABLES:
        for statement in disable_sql(table):
            op.execute(statement)
