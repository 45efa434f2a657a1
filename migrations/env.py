"""Alembic environment: the target metadata is the models', the connection the app's engine acting
as the schema owner (not the app's row-secured role)."""

from __future__ import annotations

from alembic import context

from backend.core.db import compare_options, render_plain_types
from backend.core.extensions import db
from backend.models import import_all_models
from backend.tenancy import owner_access

import_all_models()
target_metadata = db.metadata


def _options(dialect_name: str) -> dict[str, object]:
    return {
        "render_item": render_plain_types,
        "target_metadata": target_metadata,
        **compare_options(target_metadata),
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
    # The schema owner's connection (the URL's user), not the app's role: the app's role owns nothing.
    with owner_access("migrations"), db.engine.connect() as connection:
        sqlite = connection.dialect.name == "sqlite"
        if sqlite:
            # Batch mode rebuilds a table by copying it, dropping it and renaming the copy: with
            # foreign keys enforced, dropping `users` would be refused (or cascade). They are off
            # for the migration and checked after it.
            connection.exec_driver_sql("PRAGMA foreign_keys=OFF")
            connection.commit()
        try:
            context.configure(connection=connection, **_options(connection.dialect.name))
            with context.begin_transaction():
                context.run_migrations()
            if sqlite:
                broken = connection.exec_driver_sql("PRAGMA foreign_key_check").fetchall()
                if broken:
                    raise RuntimeError(f"the migration left rows pointing at nothing: {broken[:5]}")
        finally:
            if sqlite:
                connection.rollback()
                connection.exec_driver_sql("PRAGMA foreign_keys=ON")
                connection.commit()


if context.is_offline_mode():
    run_migrations_offline()
else:
    run_migrations_online()
