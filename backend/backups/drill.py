"""The restore drill (`flask backup verify`): restore a backup into a scratch database that exists
for the drill only, check its row counts match the manifest, migrate it to this code's head if it
is behind (proving it can be) and verify every audit chain with the API's own code on a second
app; then drop the scratch database.
"""

from __future__ import annotations

import tempfile
from collections.abc import Iterator
from contextlib import ExitStack, contextmanager
from dataclasses import dataclass
from pathlib import Path

from sqlalchemy.engine import URL, make_url
from sqlalchemy.exc import SQLAlchemyError

from backend.backups import engines
from backend.backups.databases import counts_at, engine_of, scrub, shown
from backend.backups.files import BackupError, Manifest, Stage, find_local, newest_backup, quiet_stage
from backend.backups.models import RunKind
from backend.backups.restoring import checked, count_mismatches
from backend.backups.runs import tracked
from backend.config import Settings
from backend.core.db import code_heads, database_revisions, dispose_pools, scratch_database
from backend.core.extensions import another_app, db


@dataclass(frozen=True)
class VerifyReport:
    backup: str
    tables: int
    rows: int
    revisions: list[str]
    upgraded: bool
    chains: int
    events: int


def verify(
    settings: Settings, given: str | None, server_url: str | None = None, stage: Stage = quiet_stage
) -> VerifyReport:
    """The restore drill: restore into a scratch database, check the migrations reach head, the
    row counts match the manifest and every audit chain verifies; drop the scratch database."""
    backup = find_local(settings.backup_dir, given) if given else newest_backup(settings)
    with tracked(settings, RunKind.VERIFY, backup.name) as run:
        manifest = checked(backup, stage)
        run.checksum, run.bytes = manifest.sha256, manifest.bytes
        with _scratch(settings, manifest, server_url) as url:
            run.details = {"scratch": shown(url)}
            engines.restore(
                backup.path,
                url,
                settings.backup_pg_bin_dir,
                stage,
                len(manifest.row_counts),
                replace=False,
                app_role=settings.db_app_role,
            )
            problems = count_mismatches(manifest.row_counts, counts_at(url))
            if problems:
                raise BackupError(f"Row counts differ from the backup's manifest: {'; '.join(problems)}")
            upgraded, chains, events, broken = _drill(settings, url)
        run.details.update(
            tables=len(manifest.row_counts),
            rows=sum(manifest.row_counts.values()),
            revisions=manifest.revisions,
            upgraded_to_head=upgraded,
            audit_chains=chains,
            audit_events=events,
        )
        if broken:
            raise BackupError(f"The restored audit trail does not verify: {'; '.join(broken)}")
    return VerifyReport(
        backup.name,
        len(manifest.row_counts),
        sum(manifest.row_counts.values()),
        manifest.revisions,
        upgraded,
        chains,
        events,
    )


@contextmanager
def _scratch(settings: Settings, manifest: Manifest, server_url: str | None) -> Iterator[URL]:
    """A database that exists for the drill only: a new PostgreSQL database on the server (the
    configured one's by default), or a SQLite file in a temporary folder; gone afterwards."""
    if manifest.engine == "postgresql":
        server = server_url or settings.database_url
        if engine_of(make_url(server)) != "postgresql":
            raise BackupError("A PostgreSQL backup is verified on a PostgreSQL server: give --server-url.")
        stack = ExitStack()
        try:
            url = stack.enter_context(scratch_database(server, "homeroom_verify"))
        except SQLAlchemyError as error:
            raise BackupError(
                scrub(f"Cannot make a scratch database: {error.__cause__ or error}", make_url(server))
            ) from None
        with stack:
            yield make_url(url)
        return
    folder = settings.backup_dir or Path(tempfile.gettempdir())
    with tempfile.TemporaryDirectory(dir=folder, prefix=".homeroom-verify-") as scratch:
        yield URL.create("sqlite", database=str(Path(scratch) / "verify.sqlite3"))


def _drill(settings: Settings, url: URL) -> tuple[bool, int, int, list[str]]:
    """On the restored copy: migrate to head if it is behind (proving it can be), then verify
    every audit chain. (Whether upgraded, chains, events, broken links.)"""
    from flask_migrate import upgrade

    from backend.audit import chain_ids, verify_chain

    copy = settings.model_copy(
        update={
            "database_url": url.render_as_string(hide_password=False),
            "redis_url": None,
            "backup_dir": None,
            "backup_s3_bucket": None,
        }
    )
    app = another_app(copy)
    try:
        with app.app_context():
            with db.engine.connect() as connection:
                current = database_revisions(connection)
            upgraded = current != code_heads()
            if upgraded:
                try:
                    upgrade()
                except Exception as error:  # noqa: BLE001 - Alembic raises several kinds; all mean the same
                    raise BackupError(
                        f"The backup is at revision {', '.join(sorted(current)) or '(none)'}, which does "
                        f"not migrate to this code's head ({', '.join(sorted(code_heads()))}): "
                        f"{type(error).__name__}."
                    ) from None
            broken, events = [], 0
            chains = chain_ids()
            for chain in chains:
                verified, problem = verify_chain(chain)
                events += verified
                if problem is not None:
                    broken.append(f"chain {chain} at event {problem.seq}: {problem.reason}")
            db.session.remove()
        return upgraded, len(chains), events, broken
    finally:
        dispose_pools(app)
