"""Publishing term reports and reading them: lists, one report as JSON or PDF, the office's CSV of
term results and a ZIP of a term's PDFs (both streamed)."""

from __future__ import annotations

import io
import uuid

import structlog
from flask import Response, send_file, stream_with_context

from backend.config import current_settings
from backend.core import csvfile
from backend.core.api import api
from backend.core.markers import long_running, writes
from backend.core.pagination import Items, Page
from backend.reportcards import bp, publishing, reading
from backend.reportcards.batch import zip_stream
from backend.reportcards.schemas import CardOut, CardsQuery, PublishIn, PublishOut, ResultsQuery
from backend.reportcards.snapshot import PublishedReport, ReportContent
from backend.tenancy import current_auth, requires

log = structlog.get_logger(__name__)
PROGRESS_EVERY = 50


@bp.post("/terms/<uuid:term_id>/report-cards/publish")
@long_running
@requires("report_cards.manage")
@api(body=PublishIn, response=PublishOut, problems=(422,))
def publish(term_id: uuid.UUID, body: PublishIn) -> PublishOut:
    """Publish the term's reports for a class, a year group or the school: a new version for each
    report that changed, an email to each guardian who may see grades."""
    return publishing.publish(current_settings(), current_auth(), term_id, body)


@bp.get("/terms/<uuid:term_id>/report-cards")
@requires("report_cards.read")
@api(query=CardsQuery, response=Page[CardOut])
def term_cards(term_id: uuid.UUID, query: CardsQuery) -> Page[CardOut]:
    """The latest published report of each student for the term, by name."""
    return reading.term_cards(current_auth(), term_id, query)


@bp.get("/terms/<uuid:term_id>/students/<uuid:student_id>/report")
@requires("report_cards.write")
@api(response=ReportContent)
def draft(term_id: uuid.UUID, student_id: uuid.UUID) -> ReportContent:
    """The student's report as publishing would freeze it now (teachers: their classes)."""
    return reading.draft(current_auth(), term_id, student_id)


@bp.get("/students/<uuid:student_id>/report-cards")
@requires("report_cards.read")
@api(response=Items[CardOut])
def student_cards(student_id: uuid.UUID) -> Items[CardOut]:
    """Every published version of the student's term reports, latest first."""
    return Items(reading.student_cards(current_auth(), student_id))


@bp.get("/report-cards/<uuid:card_id>")
@requires("report_cards.read")
@api(response=PublishedReport)
def get_card(card_id: uuid.UUID) -> PublishedReport:
    """One published report: the frozen content, its version and what changed."""
    return reading.published(current_auth(), card_id)


@bp.get("/report-cards/<uuid:card_id>/pdf")
@writes  # every download is audited
@requires("report_cards.read")
@api(media_type="application/pdf")
def card_pdf(card_id: uuid.UUID) -> Response:
    """The published report as a PDF (downloads are audited)."""
    document, name = reading.pdf(current_auth(), card_id)
    # send_file writes the name for any browser: an ASCII fallback and RFC 5987's UTF-8 form.
    download = send_file(io.BytesIO(document), "application/pdf", as_attachment=True, download_name=name)
    download.headers["Cache-Control"] = "no-store"
    return download


@bp.get("/terms/<uuid:term_id>/results.csv")
@long_running
@requires("report_cards.manage")
@api(query=ResultsQuery, media_type="text/csv")
def results_csv(term_id: uuid.UUID, query: ResultsQuery) -> Response:
    """The term's results for the office: a row per student and class (formula-safe)."""
    rows = reading.results_rows(current_auth(), term_id, query)
    return csvfile.response("term-results", reading.CSV_COLUMNS, rows)


@bp.get("/terms/<uuid:term_id>/report-cards.zip")
@long_running
@writes  # the export is audited
@requires("report_cards.manage")
@api(query=ResultsQuery, media_type="application/zip")
def cards_zip(term_id: uuid.UUID, query: ResultsQuery) -> Response:
    """The latest published report of each student as PDFs in one ZIP, streamed: each PDF is
    rendered as the download reaches it; progress is logged every 50."""
    entries = reading.zip_entries(current_auth(), term_id, query)
    total = len(entries)
    done = 0

    def advance(count: int) -> None:
        nonlocal done
        done += count
        if done % PROGRESS_EVERY == 0 or done == total:
            log.info("report_cards_zip_progress", done=done, total=total, term_id=str(term_id))

    return Response(
        stream_with_context(zip_stream(entries, advance)),
        mimetype="application/zip",
        headers={
            "Content-Disposition": 'attachment; filename="report-cards.zip"',
            "Cache-Control": "no-store",
            "X-Report-Count": str(total),
        },
    )
