"""A published report card as an A4 PDF (ReportLab platypus). Every piece of user text is escaped
before it reaches a Paragraph: ReportLab's mini-markup would otherwise follow `<img src=...>` to a
local file or restyle the page. The text is set in DejaVu Sans, which covers the Latin, Greek,
Cyrillic and Vietnamese letters of pupils' names; the output is byte-for-byte repeatable."""

from __future__ import annotations

import functools
import io
import re
import unicodedata
from collections.abc import Callable
from datetime import date, datetime
from pathlib import Path
from typing import Any
from xml.sax.saxutils import escape

import structlog
from reportlab import rl_config  # type: ignore[import-untyped]
from reportlab.lib import colors  # type: ignore[import-untyped]
from reportlab.lib.pagesizes import A4  # type: ignore[import-untyped]
from reportlab.lib.styles import ParagraphStyle  # type: ignore[import-untyped]
from reportlab.lib.units import mm  # type: ignore[import-untyped]
from reportlab.pdfbase import pdfmetrics  # type: ignore[import-untyped]
from reportlab.pdfbase.ttfonts import TTFont  # type: ignore[import-untyped]
from reportlab.pdfgen.canvas import Canvas  # type: ignore[import-untyped]
from reportlab.platypus import (  # type: ignore[import-untyped]
    Flowable,
    KeepTogether,
    Paragraph,
    SimpleDocTemplate,
    Spacer,
    Table,
    TableStyle,
)

from backend.reportcards.snapshot import (
    AttendanceCounts,
    ClassResult,
    PublishedReport,
    percent_text,
    rate_text,
)

log = structlog.get_logger("homeroom.reportcards")

DEJAVU_DIR = Path("/usr/share/fonts/truetype/dejavu")
MONTHS = ("January", "February", "March", "April", "May", "June", "July", "August", "September",
          "October", "November", "December")  # fmt: skip
DASH = "\u2014"
MARGIN = 18 * mm
FOOTER_SIZE = 8
# C0/C1 controls and format characters (bidi overrides) but newline and tab: ReportLab draws them
# as missing-glyph boxes at best.
_CONTROL = re.compile(r"[\x00-\x08\x0b-\x1f\x7f-\x9f\u200b-\u200f\u202a-\u202e\u2066-\u2069]")


@functools.cache
def fonts() -> tuple[str, str]:
    """Register the regular and bold fonts once per process; their names. DejaVu Sans (Debian's
    fonts-dejavu-core); without it ReportLab's bundled Bitstream Vera (Latin-1 only: letters such
    as Ł, Ō or ễ then print as boxes), with a warning logged once."""
    regular, bold = DEJAVU_DIR / "DejaVuSans.ttf", DEJAVU_DIR / "DejaVuSans-Bold.ttf"
    family = "DejaVuSans"
    if not (regular.is_file() and bold.is_file()):
        bundled = Path(rl_config.__file__).parent / "fonts"
        regular, bold, family = bundled / "Vera.ttf", bundled / "VeraBd.ttf", "Vera"
        log.warning("reportcard_font_fallback", missing=str(DEJAVU_DIR), font=str(regular))
    pdfmetrics.registerFont(TTFont(family, str(regular)))
    pdfmetrics.registerFont(TTFont(f"{family}-Bold", str(bold)))
    pdfmetrics.registerFontFamily(
        family, normal=family, bold=f"{family}-Bold", italic=family, boldItalic=f"{family}-Bold"
    )
    return family, f"{family}-Bold"


def markup(text: str) -> str:
    """User text made safe for a Paragraph: controls dropped, escaped, line breaks kept."""
    cleaned = _CONTROL.sub("", unicodedata.normalize("NFC", text)).replace("\t", " ")
    lines = cleaned.replace("\r\n", "\n").replace("\r", "\n").split("\n")
    return "<br/>".join(escape(line) for line in lines)


def long_date(day: date) -> str:
    """ "3 December 2026", whatever the process's locale."""
    return f"{day.day} {MONTHS[day.month - 1]} {day.year}"


def student_name(report: PublishedReport) -> str:
    return f"{report.content.first_name} {report.content.last_name}"


class Styles:
    """The paragraph styles of one document, in the registered fonts."""

    def __init__(self) -> None:
        regular, bold = fonts()
        self.font, self.bold = regular, bold
        self.body = ParagraphStyle("body", fontName=regular, fontSize=9.5, leading=12.5)
        self.small = ParagraphStyle("small", parent=self.body, fontSize=8.5, leading=10.5)
        self.label = ParagraphStyle("label", parent=self.body, textColor=colors.HexColor("#555555"))
        self.cell_title = ParagraphStyle("cell_title", parent=self.body, fontName=bold, fontSize=10)
        self.heading = ParagraphStyle("heading", parent=self.body, fontName=bold, fontSize=17, leading=21)
        self.subheading = ParagraphStyle(
            "subheading",
            parent=self.body,
            fontName=bold,
            fontSize=11.5,
            leading=15,
            spaceBefore=8,
            spaceAfter=4,
        )
        self.comment = ParagraphStyle(
            "comment", parent=self.body, leftIndent=3 * mm, spaceBefore=3, spaceAfter=2, splitLongWords=1
        )
        self.signature = ParagraphStyle(
            "signature", parent=self.small, leftIndent=3 * mm, textColor=colors.grey
        )

    def para(self, text: str, style: ParagraphStyle | None = None) -> Paragraph:
        """A Paragraph of user (or our own plain) text, escaped."""
        return Paragraph(markup(text), style or self.body)


def grid(styles: Styles, rows: list[list[Any]], widths: list[float], title: bool) -> Table:
    """A bordered table; the first row shaded (and spanning all columns when `title`)."""
    commands: list[tuple[Any, ...]] = [
        ("FONT", (0, 0), (-1, -1), styles.font, 9),
        ("BOX", (0, 0), (-1, -1), 0.6, colors.grey),
        ("INNERGRID", (0, 0), (-1, -1), 0.3, colors.lightgrey),
        ("BACKGROUND", (0, 0), (-1, 0), colors.HexColor("#eef1f5")),
        ("VALIGN", (0, 0), (-1, -1), "TOP"),
        ("TOPPADDING", (0, 0), (-1, -1), 2),
        ("BOTTOMPADDING", (0, 0), (-1, -1), 3),
    ]
    if title:
        commands.append(("SPAN", (0, 0), (-1, 0)))
    table = Table(rows, colWidths=widths, hAlign="LEFT")
    table.setStyle(TableStyle(commands))
    return table


def header(report: PublishedReport, styles: Styles) -> list[Flowable]:
    content = report.content
    term = (
        f"{content.term_name}: {long_date(content.term_starts_on)} \u2013 {long_date(content.term_ends_on)}"
    )
    published = f"Version {report.version}, published {long_date(report.published_on)}"
    return [
        styles.para(content.school_name, styles.heading),
        Spacer(1, 2 * mm),
        styles.para("Report card", styles.subheading),
        styles.para(term),
        Spacer(1, 2 * mm),
        styles.para(student_name(report), styles.cell_title),
        styles.para(f"Admission number {content.admission_number} \u00b7 Year {content.grade_level}"),
        styles.para(published, styles.small),
        Spacer(1, 3 * mm),
    ]


def signed_comment(styles: Styles, comment: str | None, by: str | None) -> list[Flowable]:
    """A comment keeping its line breaks, then "— <author>" when known; nothing without a comment."""
    if not comment:
        return []
    flowables: list[Flowable] = [Paragraph(markup(comment), styles.comment)]
    if by:
        flowables.append(styles.para(f"{DASH} {by}", styles.signature))
    return flowables


def row(styles: Styles, *cells: str) -> list[Paragraph]:
    """A table row of label and value pairs, labels in grey."""
    return [styles.para(text, styles.label if n % 2 == 0 else styles.body) for n, text in enumerate(cells)]


def class_block(result: ClassResult, styles: Styles, width: float) -> Flowable:
    """One class: its table (title row, teacher, average, grade, counts, attendance), its comment."""
    title = Paragraph(f"{markup(result.class_name)} \u00b7 {markup(result.subject)}", styles.cell_title)
    rows = [
        [title, "", "", ""],
        row(styles, "Teacher", result.teacher_name or DASH, "Attendance", rate_text(result.attendance.rate)),
        row(styles, "Average", percent_text(result.average), "Grade", result.grade or DASH),
        row(styles, "Graded", str(result.graded), "Missing", str(result.missing)),
        row(styles, "Exempt", str(result.exempt), "Not graded", str(result.not_graded)),
    ]
    label = width * 0.18
    table = grid(styles, rows, [label, width / 2 - label, label, width / 2 - label], title=True)
    parts = [table, *signed_comment(styles, result.comment, result.comment_by), Spacer(1, 4 * mm)]
    return KeepTogether(parts)


def attendance_block(counts: AttendanceCounts, styles: Styles, width: float) -> list[Flowable]:
    labels = ["Present", "Late", "Left early", "Absent (authorised)", "Absent (unauthorised)", "Rate"]
    values = [counts.present, counts.late, counts.left_early, counts.absent_authorised]
    cells = [styles.para(str(value)) for value in [*values, counts.absent_unauthorised]]
    head = [styles.para(text, styles.small) for text in labels]
    body = [*cells, styles.para(rate_text(counts.rate))]
    table = grid(styles, [head, body], [width / len(labels)] * len(labels), title=False)
    return [styles.para("Attendance this term", styles.subheading), table]


def closing_blocks(report: PublishedReport, styles: Styles) -> list[Flowable]:
    """The overall comment, then what changed in this version (when anything did)."""
    content = report.content
    blocks: list[Flowable] = []
    if content.overall_comment:
        blocks.append(styles.para("Overall comment", styles.subheading))
        blocks += signed_comment(styles, content.overall_comment, content.overall_comment_by)
    if report.changes:
        blocks.append(styles.para("Changes in this version", styles.subheading))
        blocks += [Paragraph(f"\u2022 {markup(change)}", styles.body) for change in report.changes]
    return blocks


def story(report: PublishedReport, styles: Styles, width: float) -> list[Flowable]:
    content = report.content
    flowables = header(report, styles)
    if content.classes:
        flowables.append(styles.para("Classes", styles.subheading))
    flowables += [class_block(result, styles, width) for result in content.classes]
    flowables += attendance_block(content.attendance, styles, width)
    return flowables + closing_blocks(report, styles)


def fit(text: str, font: str, size: float, width: float) -> str:
    """`text`, cut with an ellipsis to fit `width` points."""
    if pdfmetrics.stringWidth(text, font, size) <= width:
        return text
    while text and pdfmetrics.stringWidth(text + "\u2026", font, size) > width:
        text = text[:-1]
    return text.rstrip() + "\u2026"


class NumberedCanvas(Canvas):  # type: ignore[misc]
    """Two passes over the pages: held until the end, then each footed with "Page X of Y"."""

    def __init__(self, *args: Any, footer: str, created: datetime, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.footer = footer
        self.pages: list[dict[str, Any]] = []
        stamp = created.strftime("D:%Y%m%d%H%M%S") + pdf_offset(created)
        self.setDateFormatter(lambda *_: stamp)

    def showPage(self) -> None:  # noqa: N802 (ReportLab's name)
        # Not `pages` itself: a held state holding the list would make one more reference cycle.
        self.pages.append({key: value for key, value in self.__dict__.items() if key != "pages"})
        self._startPage()

    def save(self) -> None:
        total = len(self.pages)
        for state in self.pages:
            self.__dict__.update(state)
            self.draw_footer(total)
            super().showPage()
        self.pages.clear()
        super().save()

    def draw_footer(self, total: int) -> None:
        regular, _ = fonts()
        page = f"Page {self._pageNumber} of {total}"
        right = A4[0] - MARGIN
        self.saveState()
        self.setFont(regular, FOOTER_SIZE)
        self.setFillColor(colors.grey)
        self.drawRightString(right, 10 * mm, page)
        room = right - MARGIN - pdfmetrics.stringWidth(page, regular, FOOTER_SIZE) - 6 * mm
        self.drawString(MARGIN, 10 * mm, fit(_CONTROL.sub("", self.footer), regular, FOOTER_SIZE, room))
        self.restoreState()


def pdf_offset(moment: datetime) -> str:
    """The PDF date's UTC offset ("+01'00'"; "Z" for a naive or UTC time)."""
    offset = moment.utcoffset()
    if not offset:
        return "Z"
    minutes = int(offset.total_seconds()) // 60
    sign = "+" if minutes >= 0 else "-"
    return f"{sign}{abs(minutes) // 60:02d}'{abs(minutes) % 60:02d}'"


def canvas_maker(report: PublishedReport) -> Callable[..., NumberedCanvas]:
    footer = f"{report.content.school_name} \u00b7 {student_name(report)}"
    return functools.partial(NumberedCanvas, footer=footer, created=report.published_at)


def render_pdf(report: PublishedReport) -> bytes:
    """The report card as PDF bytes; the same report renders to the same bytes."""
    styles = Styles()
    buffer = io.BytesIO()
    doc = SimpleDocTemplate(
        buffer,
        pagesize=A4,
        leftMargin=MARGIN,
        rightMargin=MARGIN,
        topMargin=MARGIN,
        bottomMargin=MARGIN + 4 * mm,
        title=f"Report card {DASH} {student_name(report)} {DASH} {report.content.term_name}",
        author=report.content.school_name,
        subject=f"{report.content.term_name}, version {report.version}",
        creator="Homeroom",
        invariant=True,
        initialFontName=styles.font,
    )
    try:
        doc.build(story(report, styles, doc.width), canvasmaker=canvas_maker(report))
        return buffer.getvalue()
    finally:
        release(doc)


def release(doc: SimpleDocTemplate) -> None:
    """Break the reference cycles ReportLab leaves between a document, its canvas and its PDF
    objects, so that a render's memory is freed now rather than at the next full collection
    (which, rendering a batch, would let dozens of finished documents pile up)."""
    canvas = getattr(doc, "canv", None)
    for holder in (canvas, getattr(canvas, "_doc", None), doc):
        if holder is not None:
            holder.__dict__.clear()
