"""The report card's PDF, read back with poppler (pdftotext, pdftoppm), and the streamed ZIP of many.
The reports are built in memory: no database, no app."""

from __future__ import annotations

import io
import subprocess
import tracemalloc
import uuid
import zipfile
from datetime import UTC, date, datetime, timedelta, timezone
from functools import partial
from pathlib import Path

import pytest
import structlog
import structlog.testing
from PIL import Image

from backend.reportcards import pdf
from backend.reportcards.batch import safe_name, unique_names, zip_stream
from backend.reportcards.pdf import render_pdf
from backend.reportcards.snapshot import (
    AttendanceCounts,
    ClassResult,
    PublishedReport,
    ReportContent,
    percent_text,
    rate_text,
)
from tests.reportcards.helpers import flat, poppler, text_of

SUBJECTS = ["Mathematics", "English", "Science", "History", "Geography", "Art", "Music", "French",
            "Physical Education", "Computing", "Drama", "Design", "Religious Studies", "Latin",
            "Spanish"]  # fmt: skip
LONG_COMMENT = " ".join(f"word{n:03d}" for n in range(125))[:1000]


def counts(present: int = 40, absent: int = 2, rate: float | None = 0.9375) -> AttendanceCounts:
    return AttendanceCounts(
        present=present,
        late=3,
        left_early=1,
        absent_authorised=2,
        absent_unauthorised=absent,
        total=present + 3 + 1 + 2 + absent,
        rate=rate,
    )


def result(n: int, comment: str | None = None) -> ClassResult:
    return ClassResult(
        class_id=uuid.UUID(int=n + 1),
        class_name=f"{SUBJECTS[n]} 5{'ABCDEFGHIJKLMNO'[n]}",
        subject=SUBJECTS[n],
        teacher_name=f"Teacher Number{n}",
        average=[71.5, 70.0, 88.25, None, 64.1, 93.0][n % 6],
        grade=["B", "B", "A", None, "C+", "A*"][n % 6],
        scale_name="Letters",
        graded=5 + n,
        missing=n % 3,
        exempt=n % 2,
        not_graded=n % 4,
        attendance=counts(present=30 + n, rate=[0.9375, 1.0, 0.5, None, 0.8333, 0.0][n % 6]),
        comment=comment if comment is not None else f"Comment for class {n}: steady work.",
        comment_by=f"Teacher Number{n}",
    )


def report(
    classes: int = 6,
    first: str = "Zoë",
    last: str = "Łukasiewicz-Ōta",
    comments: dict[int, str] | None = None,
    overall: str | None = "A strong term.\nKeep reading at home.",
    changes: list[str] | None = None,
) -> PublishedReport:
    comments = comments or {}
    return PublishedReport(
        id=uuid.UUID(int=99),
        version=2,
        published_at=datetime(2026, 12, 3, 15, 30, tzinfo=UTC),
        published_on=date(2026, 12, 3),
        published_by_name="Head Teacher",
        changes=changes if changes is not None else [],
        content=ReportContent(
            school_name="St Åsa's Primary & Nursery",
            term_id=uuid.UUID(int=7),
            term_name="Autumn 2026",
            term_starts_on=date(2026, 9, 1),
            term_ends_on=date(2026, 12, 18),
            student_id=uuid.UUID(int=8),
            admission_number="A-001",
            first_name=first,
            last_name=last,
            grade_level=5,
            classes=[result(n, comments.get(n)) for n in range(classes)],
            attendance=counts(present=180, rate=0.9375),
            overall_comment=overall,
            overall_comment_by="Ms Nguyễn Thị Hà",
        ),
    )


def test_the_pdf_holds_the_report(tmp_path: Path) -> None:
    card = report(changes=["Science: average 85% \u2192 88.25%"])
    text = text_of(render_pdf(card), tmp_path)
    words = flat(text)
    for expected in [
        "St Åsa's Primary & Nursery",
        "Report card",
        "Autumn 2026",
        "1 September 2026",
        "18 December 2026",
        "Zoë Łukasiewicz-Ōta",
        "A-001",
        "Year 5",
        "Version 2, published 3 December 2026",
        "Ms Nguyễn Thị Hà",
        "A strong term.",
        "Keep reading at home.",
        "Changes in this version",
        "Science: average 85% \u2192 88.25%",
        f"Page 1 of {text.count(chr(12))}",
    ]:
        assert expected in words, expected
    for n, result in enumerate(card.content.classes):
        assert result.class_name in words
        assert f"Comment for class {n}: steady work." in words
        assert f"\u2014 Teacher Number{n}" in words
        assert percent_text(result.average) in words
        assert rate_text(result.attendance.rate) in words
        assert (result.grade or "\u2014") in words
    assert {"71.5%", "70%", "88.25%", "64.1%", "93%"} <= set(words.split())
    assert rate_text(card.content.attendance.rate) == "93.8%"
    assert "93.8%" in words
    assert "(authorised)" in words and "(unauthorised)" in words


def test_unicode_names_and_a_long_comment_over_pages(tmp_path: Path) -> None:
    card = report(classes=15, first="Åsa", last="Öberg", comments={14: LONG_COMMENT})
    text = text_of(render_pdf(card), tmp_path)
    pages = text.split("\f")
    assert len([page for page in pages if page.strip()]) >= 2
    total = len([page for page in pages if page.strip()])
    for number in range(1, total + 1):
        page = flat(pages[number - 1])
        assert f"Page {number} of {total}" in page
        assert "Åsa Öberg" in page and "St Åsa's Primary & Nursery" in page  # the footer, every page
    words = flat(text)
    assert LONG_COMMENT in words
    for result in card.content.classes:
        assert result.class_name in words


def test_a_comment_of_markup_prints_as_typed(tmp_path: Path) -> None:
    hostile = '<img src="/etc/passwd"/> and <font color="red">x</font> & <a href="http://x">link</a>'
    card = report(
        first="<b>Bold</b>",
        last="O'Brien & Sons",
        comments={0: hostile + "\nsecond line"},
        overall="<para>unclosed <b>",
    )
    words = flat(text_of(render_pdf(card), tmp_path))
    assert '<img src="/etc/passwd"/>' in words
    assert '<font color="red">x</font>' in words
    assert '<a href="http://x">link</a>' in words
    assert "<b>Bold</b> O'Brien & Sons" in words
    assert "<para>unclosed <b>" in words
    assert "second line" in words


def test_control_characters_and_empty_parts_do_not_break_it(tmp_path: Path) -> None:
    card = report(
        classes=0,
        first="Null\x00Byte",
        last="Tab\tBell\x07",
        overall=None,
        comments={},
    )
    words = flat(text_of(render_pdf(card), tmp_path))
    assert "NullByte Tab" in words
    assert "Page 1 of 1" in words


def test_a_long_word_wraps_inside_the_page(tmp_path: Path) -> None:
    word = "x" * 300
    text = text_of(render_pdf(report(classes=1, comments={0: word})), tmp_path)
    assert word in "".join(text.split())
    assert max(len(line) for line in text.splitlines()) < 200


def test_without_dejavu_the_bundled_vera_font_is_used(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    monkeypatch.setattr(pdf, "DEJAVU_DIR", tmp_path / "absent")
    pdf.fonts.cache_clear()
    try:
        with structlog.testing.capture_logs() as logs:
            assert pdf.fonts() == ("Vera", "Vera-Bold")
            pdf.fonts()
            words = flat(text_of(render_pdf(report(first="Ada", last="Lovelace")), tmp_path))
    finally:
        pdf.fonts.cache_clear()
    assert [entry["event"] for entry in logs] == ["reportcard_font_fallback"]
    assert logs[0]["log_level"] == "warning"
    assert "Ada Lovelace" in words


def test_the_first_page_draws_something(tmp_path: Path) -> None:
    path = tmp_path / "card.pdf"
    path.write_bytes(render_pdf(report()))
    subprocess.run(
        [poppler("pdftoppm"), "-png", "-r", "50", "-f", "1", "-l", "1", str(path), str(tmp_path / "page")],
        check=True,
        timeout=60,
    )
    [png] = list(tmp_path.glob("page*.png"))
    with Image.open(png) as image:
        grey = image.convert("L")
        assert grey.size[0] > 350  # A4 at 50 dpi: 413 x 585
        dark = sum(count for level, count in enumerate(grey.histogram()) if level < 128)
    assert dark > 500


def test_the_same_report_renders_to_the_same_bytes_with_its_metadata(tmp_path: Path) -> None:
    card = report()
    pdf = render_pdf(card)
    assert pdf == render_pdf(card)
    assert pdf.startswith(b"%PDF-")
    path = tmp_path / "card.pdf"
    path.write_bytes(pdf)
    info = subprocess.run(
        [poppler("pdfinfo"), "-isodates", str(path)], capture_output=True, check=True, timeout=60
    )
    meta = info.stdout.decode()
    assert "Report card \u2014 Zoë Łukasiewicz-Ōta \u2014 Autumn 2026" in meta
    assert "St Åsa's Primary & Nursery" in meta
    assert "2026-12-03T15:30:00Z" in meta  # created when published


def entries(count: int, calls: list[str]) -> list[tuple[str, object]]:
    def maker(n: int):
        def make() -> bytes:
            calls.append(f"make {n}")
            return f"entry {n} ".encode() * (n + 1)

        return make

    return [(f"{n:03d}.pdf", maker(n)) for n in range(count)]


def test_the_zip_streams_every_entry_lazily() -> None:
    calls: list[str] = []
    ticks: list[int] = []
    chunks: list[bytes] = []
    for chunk in zip_stream(entries(50, calls), progress=ticks.append):  # type: ignore[arg-type]
        calls.append(f"chunk {len(chunks)}")
        chunks.append(chunk)
    assert calls[:4] == ["make 0", "chunk 0", "make 1", "chunk 1"]
    assert b"entry 0 " in chunks[0] and b"entry 1" not in chunks[0]
    assert ticks == [1] * 50
    with zipfile.ZipFile(io.BytesIO(b"".join(chunks))) as archive:
        assert archive.testzip() is None
        assert archive.namelist() == [f"{n:03d}.pdf" for n in range(50)]
        for n in range(50):
            assert archive.read(f"{n:03d}.pdf") == f"entry {n} ".encode() * (n + 1)


def test_the_zip_of_real_pdfs_opens() -> None:
    cards = [report(first=name) for name in ["Zoë", "Åsa", "Zoë"]]
    names = [safe_name(c.content.admission_number, c.content.last_name, c.content.first_name) for c in cards]
    data = b"".join(
        zip_stream(
            (name, lambda card=card: render_pdf(card)) for name, card in zip(names, cards, strict=True)
        )
    )
    with zipfile.ZipFile(io.BytesIO(data)) as archive:
        assert archive.testzip() is None
        assert archive.namelist() == [
            "A-001 Łukasiewicz-Ōta Zoë.pdf",
            "A-001 Łukasiewicz-Ōta Åsa.pdf",
            "A-001 Łukasiewicz-Ōta Zoë (2).pdf",
        ]
        assert archive.read(archive.namelist()[0]) == render_pdf(cards[0])


def test_colliding_names_are_numbered() -> None:
    name_for = unique_names()
    given = ["A.pdf", "a.PDF", "A.pdf", "A (2).pdf", "Zoe\u0308.pdf", "Zoë.pdf", "notes", "notes"]
    assert [name_for(name) for name in given] == [
        "A.pdf",
        "a (2).PDF",
        "A (3).pdf",
        "A (2) (2).pdf",
        "Zoe\u0308.pdf",
        "Zoë (2).pdf",
        "notes",
        "notes (2)",
    ]
    long = "x" * 116 + ".pdf"
    assert len(name_for(long)) == 120 and len(name_for(long)) == 120
    assert name_for(long).endswith("x (3).pdf")


def test_zip_stream_numbers_duplicates() -> None:
    data = b"".join(
        zip_stream([("Same.pdf", lambda: b"1"), ("same.pdf", lambda: b"2"), ("Same.pdf", lambda: b"3")])
    )
    with zipfile.ZipFile(io.BytesIO(data)) as archive:
        assert archive.namelist() == ["Same.pdf", "same (2).pdf", "Same (3).pdf"]
        assert [archive.read(name) for name in archive.namelist()] == [b"1", b"2", b"3"]


@pytest.mark.parametrize(
    ("parts", "expected"),
    [
        (("A-001", "Archer", "Alice"), "A-001 Archer Alice.pdf"),
        (("../../etc", "passwd"), "etc passwd.pdf"),
        (("..",), "report.pdf"),
        (("a/b\\c", "d:e*f?g"), "a b c d e f g.pdf"),
        (("Bell\x07", "New\nline", "Tab\there"), "Bell New line Tab here.pdf"),
        (("rtl\u202egpj.exe",), "rtl gpj.exe.pdf"),
        (("Nguyễn", "Thị Hà"), "Nguyễn Thị Hà.pdf"),
        (("Zoe\u0308",), "Zoë.pdf"),
        (("CON",), "_CON.pdf"),
        (("", "  ", "Alice"), "Alice.pdf"),
        ((".hidden.",), "hidden.pdf"),
    ],
)
def test_safe_name(parts: tuple[str, ...], expected: str) -> None:
    assert safe_name(*parts) == expected


def test_safe_name_limits_the_length() -> None:
    assert len(safe_name("x" * 500)) == 120
    cut = safe_name("語" * 200)
    assert cut.endswith(".pdf") and len(cut.encode()) <= 240
    assert safe_name("a" * 200, suffix=".zip").endswith("a.zip")


@pytest.mark.parametrize(
    ("moment", "expected"),
    [
        (datetime(2026, 12, 3, 15, 30), "Z"),
        (datetime(2026, 12, 3, 15, 30, tzinfo=UTC), "Z"),
        (datetime(2026, 12, 3, 15, 30, tzinfo=timezone(timedelta(hours=13))), "+13'00'"),
        (datetime(2026, 12, 3, 15, 30, tzinfo=timezone(-timedelta(hours=3, minutes=30))), "-03'30'"),
    ],
)
def test_the_pdf_date_offset(moment: datetime, expected: str) -> None:
    assert pdf.pdf_offset(moment) == expected


def test_a_batch_holds_one_pdf_at_a_time() -> None:
    """Streaming 20 PDFs peaks near one render's own peak: finished documents are freed at once
    (ReportLab's reference cycles are broken), not left for the garbage collector to gather."""
    cards = [report(classes=6 + n % 10, first=f"Pupil{n}") for n in range(20)]
    render_pdf(cards[0])
    tracemalloc.start()
    try:
        render_pdf(cards[-1])
        one = tracemalloc.get_traced_memory()[1]
        tracemalloc.reset_peak()
        size = sum(
            len(chunk)
            for chunk in zip_stream((f"{n}.pdf", partial(render_pdf, c)) for n, c in enumerate(cards))
        )
        peak = tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()
    assert size > 20 * 40_000
    assert peak < one + 1_000_000, (peak, one, size)
