"""`flask report-cards publish|zip`: publish a term's reports, or write their PDFs to a ZIP file,
from a terminal, as the school's first active admin, with a progress bar."""

from __future__ import annotations

import sys
import uuid
from pathlib import Path

import click
from flask.cli import AppGroup

from backend.auth import acting_admin
from backend.config import current_settings
from backend.reportcards.batch import zip_stream
from backend.reportcards.publishing import publish
from backend.reportcards.reading import zip_entries
from backend.reportcards.schemas import PublishIn, ResultsQuery, Scope
from backend.tenancy import AuthContext

report_cards_cli = AppGroup("report-cards", help="Publish term reports; write a term's PDFs to a ZIP.")


def _admin(slug: str) -> AuthContext:
    try:
        return acting_admin(slug)
    except LookupError as error:
        raise click.ClickException(str(error)) from None


@report_cards_cli.command("publish")
@click.argument("term_id", type=click.UUID)
@click.option("--school", "slug", required=True, help="The school's slug.")
@click.option("--class-id", type=click.UUID, help="Only this class's students.")
@click.option("--grade-level", type=click.IntRange(0, 20), help="Only this year group.")
def publish_command(
    term_id: uuid.UUID, slug: str, class_id: uuid.UUID | None, grade_level: int | None
) -> None:
    """Publish TERM_ID's reports (the whole school unless narrowed); changed ones get a new version."""
    if class_id is not None and grade_level is not None:
        raise click.UsageError("Give --class-id or --grade-level, not both.")
    scope = Scope.CLASS if class_id else Scope.YEAR if grade_level is not None else Scope.SCHOOL
    body = PublishIn(scope=scope, class_id=class_id, grade_level=grade_level)
    done = publish(current_settings(), _admin(slug), term_id, body)
    click.echo(
        f"{done.students} students: {done.published} published, {done.updated} updated, "
        f"{done.unchanged} unchanged; emails queued: {done.emails_queued}; comments still missing: "
        f"{done.class_comments_missing} from teachers, {done.overall_comments_missing} overall."
    )


@report_cards_cli.command("zip")
@click.argument("term_id", type=click.UUID)
@click.option("--school", "slug", required=True, help="The school's slug.")
@click.option("--out", "out", required=True, type=click.Path(dir_okay=False, path_type=Path))
@click.option("--class-id", type=click.UUID, help="Only this class's students.")
@click.option("--grade-level", type=click.IntRange(0, 20), help="Only this year group.")
def zip_command(
    term_id: uuid.UUID, slug: str, out: Path, class_id: uuid.UUID | None, grade_level: int | None
) -> None:
    """Write the latest published report of each student of TERM_ID as PDFs into one ZIP file."""
    entries = zip_entries(_admin(slug), term_id, ResultsQuery(class_id=class_id, grade_level=grade_level))
    partial = out.with_name(out.name + ".partial")
    with (
        click.progressbar(length=max(len(entries), 1), label="Rendering reports", file=sys.stderr) as bar,
        partial.open("wb") as file,
    ):
        for chunk in zip_stream(entries, bar.update):
            file.write(chunk)
    partial.replace(out)
    click.echo(f"{len(entries)} reports written to {out}.")
