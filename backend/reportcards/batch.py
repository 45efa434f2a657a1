"""Many report cards as one ZIP, streamed: each entry's bytes are made only when the entry is
written and handed on right after, so one PDF at a time is held, whatever the batch's size."""

from __future__ import annotations

import re
import time
import unicodedata
import zipfile
from collections.abc import Callable, Iterable, Iterator

MAX_NAME = 120  # characters, extension included
MAX_NAME_BYTES = 240  # UTF-8; most file systems stop at 255 bytes
# Path separators, the characters Windows refuses in a name, and control/format characters.
_UNSAFE = re.compile(r'[/\\:*?"<>|\x00-\x1f\x7f-\x9f\u200b-\u200f\u2028-\u202e\u2066-\u2069\ufeff]')
_EXTENSION = re.compile(r"\.[A-Za-z0-9]{1,8}\Z")
_RESERVED = {
    "CON",
    "PRN",
    "AUX",
    "NUL",
    *(f"COM{n}" for n in range(1, 10)),
    *(f"LPT{n}" for n in range(1, 10)),
}


def _clean(part: str) -> str:
    text = _UNSAFE.sub(" ", unicodedata.normalize("NFC", part))
    text = re.sub(r"\.{2,}", ".", text)
    return " ".join(text.split()).strip(" .")


def _cut(stem: str, tail: str) -> str:
    """`stem` cut so that `stem + tail` fits in 120 characters and 240 UTF-8 bytes."""
    stem = stem[: MAX_NAME - len(tail)]
    while stem and len((stem + tail).encode()) > MAX_NAME_BYTES:
        stem = stem[:-1]
    return stem.rstrip(" .")


def safe_name(*parts: str, suffix: str = ".pdf") -> str:
    """A portable file name from `parts` joined by spaces: `A-001 Archer Alice.pdf`. Separators,
    `..`, controls and characters Windows refuses are dropped; Unicode letters are kept (NFC);
    at most 120 characters (240 UTF-8 bytes), `suffix` included; "report" when nothing is left."""
    stem = _cut(" ".join(filter(None, map(_clean, parts))), suffix) or "report"
    if stem.split(".")[0].upper() in _RESERVED:
        stem = f"_{stem}"
    return stem + suffix


def _numbered(name: str, n: int) -> str:
    """`A.pdf` as `A (n).pdf` (`A (n)` without an extension), cut to stay within the limit."""
    found = _EXTENSION.search(name)
    extension = found.group() if found else ""
    stem = name[: len(name) - len(extension)]
    tail = f" ({n}){extension}"
    return _cut(stem, tail) + tail


def unique_names() -> Callable[[str], str]:
    """A namer: returns each name as given, or numbered ("A (2).pdf") when an earlier one matches
    it ignoring case and Unicode normalisation (as Windows and macOS compare names)."""
    taken: set[str] = set()

    def key(name: str) -> str:
        return unicodedata.normalize("NFC", name).casefold()

    def name_for(name: str) -> str:
        candidate, n = name, 1
        while key(candidate) in taken:
            n += 1
            candidate = _numbered(name, n)
        taken.add(key(candidate))
        return candidate

    return name_for


class _Pipe:
    """A write-only, unseekable sink that the generator empties after each entry. zipfile, unable
    to seek back, writes each entry's sizes and CRC in a data descriptor after its data."""

    def __init__(self) -> None:
        self.chunks: list[bytes] = []

    def write(self, data: bytes) -> int:
        self.chunks.append(bytes(data))
        return len(data)

    def flush(self) -> None:
        return None

    def close(self) -> None:
        return None

    def drain(self) -> bytes:
        data = b"".join(self.chunks)
        self.chunks.clear()
        return data


def _entry(name: str) -> zipfile.ZipInfo:
    info = zipfile.ZipInfo(name, date_time=time.localtime()[:6])
    info.compress_type = zipfile.ZIP_STORED
    info.external_attr = 0o644 << 16  # rw-r--r-- when unpacked on Unix
    return info


def zip_stream(
    entries: Iterable[tuple[str, Callable[[], bytes]]], progress: Callable[[int], None] | None = None
) -> Iterator[bytes]:
    """The ZIP of `entries` (name, function making the bytes), yielded entry by entry: each
    function is called only when its entry is written, and `progress(1)` once its bytes have been
    handed on. Names that collide (case-insensitively) are numbered "A (2).pdf".

    Stored, not deflated: ReportLab already compresses a PDF's page streams and font subsets, so
    deflating gains a few percent for a lot of CPU and would delay each chunk; stored entries also
    let a client see the download's progress as it is."""
    pipe = _Pipe()
    name_for = unique_names()
    archive = zipfile.ZipFile(pipe, mode="w", compression=zipfile.ZIP_STORED)
    for name, make in entries:
        archive.writestr(_entry(name_for(name)), make())
        yield pipe.drain()
        if progress is not None:
            progress(1)
    archive.close()
    yield pipe.drain()
