"""Alembic environment: the target metadata is the models', the connection the app's engine."""

from __future__ import annotations

from typing import Any

from alembic import context
from alembic.autogenerate.api import AutogenContext
from sqlalchemy import TypeDecorator

from backend.extensions import db
from backend.models import import_all_models

import_all_models()
target_metadata = db.metadata


def _render_item(kind: str, item: Any, autogen_context: AutogenContext) -> str | bool:
    """Write the app's own column types (UTC timestamps, encrypted text) as the plain types they
    store, so migrations import no application code."""
    if kind == "type" and isinstance(item, TypeDecorator) and type(item).__module__.startswith("backend."):
        return f"sa.{item.impl_instance!r}"
    return False


def _options(dialect_name: str) -> dict[str, object]:
    return {
        "render_item": _render_item,
        "target_metadata": target_metadata,
        "compare_type": True,
        "compare_server_default": True,
        # SQLite cannot ALTER most things in place; batch mode rebuilds the table instead.
        "render_as_batch": dialect_name == "sqlite",
    }


def run_migrations_offline() -> None:
    url = db.engine.url
    context.configure(url=url, literal_binds=True, **_options(url.get_backend_name()))
    with context.begin_transaction():
        context.run_migrations()


def run_migrations_online() -> None:
    with db.engine.connect() as connection:
        context.configure(connection=connection, **_options(connection.dialect.name))
        with context.begin_transaction():
            context.run_migrations()


if context.is_offline_mode():
    run_migrations_offline()
else:
    run_migrations_online()
