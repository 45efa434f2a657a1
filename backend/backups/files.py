"""Backup files on disk: names, the checksum and manifest beside each, atomic writes, the folder
(BACKUP_DIR) and its newest finished backup, the retention rule.

A backup is three files in BACKUP_DIR:

    homeroom-20261130T021500Z.pgdump          the dump (PostgreSQL custom format, compressed)
    homeroom-20261130T021500Z.pgdump.json     its manifest: what it holds, row counts per table
    homeroom-20261130T021500Z.pgdump.sha256   its SHA-256, in `sha256sum -c` format

(`.sqlite3.gz` for SQLite). Each is written under a temporary name with mode 600 and renamed
when complete; the checksum is written last, so a backup without one is unfinished, never good.
The folder is its owner's alone (700): one that exists with a wider mode is tightened before
anything is written into it, or refused when it cannot be (Homeroom's user is not its owner).
"""

from __future__ import annotations

import hashlib
import os
import re
import stat
from collections.abc import Callable, Iterator, Sequence
from contextlib import AbstractContextManager, contextmanager
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import BinaryIO, Literal, TypeVar

import structlog
from pydantic import BaseModel, ConfigDict, ValidationError

from backend.config import Settings

DatabaseKind = Literal["postgresql", "sqlite"]
EXTENSIONS: dict[DatabaseKind, str] = {"postgresql": "pgdump", "sqlite": "sqlite3.gz"}
STAMP = "%Y%m%dT%H%M%SZ"
NAME = re.compile(
    r"^(?P<database>[A-Za-z0-9_.-]+?)-(?P<stamp>\d{8}T\d{6}Z)(?:-(?P<n>\d+))?"
    r"\.(?P<ext>pgdump|sqlite3\.gz)$"
)
PARTIAL_SUFFIX = ".partial"
CHUNK = 1024 * 1024
FOLDER_MODE, FILE_MODE = 0o700, 0o600
log = structlog.get_logger("homeroom.backup")

Advance = Callable[[int], None]
# A stage of a long operation, for progress: `with stage("Dumping", total) as advance: advance(n)`.
Stage = Callable[[str, int], AbstractContextManager[Advance]]
T = TypeVar("T")


@contextmanager
def quiet_stage(_label: str, _total: int) -> Iterator[Advance]:
    """No progress shown (the default outside a terminal command)."""
    yield lambda _n: None


class BackupError(Exception):
    """A backup operation failed; the message says what and what to do, and holds no secret."""


class Manifest(BaseModel):
    """What a backup holds, recorded when it was made: the restore drill checks against it."""

    model_config = ConfigDict(frozen=True, extra="ignore")

    format: Literal[1] = 1
    file: str
    engine: DatabaseKind
    database: str
    created_at: datetime
    revisions: list[str]
    row_counts: dict[str, int]
    bytes: int
    sha256: str
    server_version: str
    app_version: str


def _safe(name: str) -> str:
    return re.sub(r"[^A-Za-z0-9_.-]", "_", name) or "database"


def new_name(folder: Path, engine: DatabaseKind, database: str, now: datetime) -> str:
    """`<database>-<UTC timestamp>.<ext>`, with `-2`, `-3`... if that second is taken."""
    base = f"{_safe(database)}-{now.astimezone(UTC).strftime(STAMP)}"
    extension = EXTENSIONS[engine]
    name, n = f"{base}.{extension}", 1
    while any((folder / f"{name}{suffix}").exists() for suffix in ("", ".sha256", ".json")):
        n += 1
        name = f"{base}-{n}.{extension}"
    return name


@dataclass(frozen=True)
class BackupName:
    """What a backup's file name says: database, engine and when it was made."""

    name: str
    database: str
    engine: DatabaseKind
    created_at: datetime
    n: int = 1  # the second backup in the same second is `-2`

    @property
    def order(self) -> tuple[datetime, int]:
        return (self.created_at, self.n)

    @classmethod
    def parse(cls, name: str) -> BackupName | None:
        match = NAME.match(name)
        if match is None:
            return None
        created = datetime.strptime(match["stamp"], STAMP).replace(tzinfo=UTC)
        engine: DatabaseKind = "postgresql" if match["ext"] == "pgdump" else "sqlite"
        return cls(name, match["database"], engine, created, int(match["n"] or 1))


@dataclass(frozen=True)
class LocalBackup:
    """A backup file in a folder, with its sidecars."""

    path: Path
    info: BackupName

    @property
    def name(self) -> str:
        return self.path.name

    @property
    def created_at(self) -> datetime:
        return self.info.created_at

    @property
    def checksum_path(self) -> Path:
        return self.path.with_name(f"{self.name}.sha256")

    @property
    def manifest_path(self) -> Path:
        return self.path.with_name(f"{self.name}.json")

    @property
    def complete(self) -> bool:
        """Written to the end: the checksum, written last, is there."""
        return self.path.is_file() and self.checksum_path.is_file()

    def files(self) -> list[Path]:
        return [self.path, self.manifest_path, self.checksum_path]

    def recorded_checksum(self) -> str:
        try:
            text = self.checksum_path.read_text(encoding="utf-8")
        except FileNotFoundError:
            raise BackupError(
                f"{self.name} has no checksum file ({self.checksum_path.name}): it was never finished "
                "or the file was copied without it; it cannot be trusted."
            ) from None
        digest = text.split()[0] if text.split() else ""
        if not re.fullmatch(r"[0-9a-f]{64}", digest):
            raise BackupError(f"{self.checksum_path.name} does not hold a SHA-256 checksum.")
        return digest

    def check(self, advance: Advance | None = None) -> str:
        """The file's SHA-256 when it matches the recorded one; otherwise a clear refusal."""
        expected = self.recorded_checksum()
        actual = sha256_of(self.path, advance)
        if actual != expected:
            raise BackupError(
                f"{self.name} is corrupted: its SHA-256 is {actual[:12]}..., the backup recorded "
                f"{expected[:12]}... The file changed after it was written; use another backup."
            )
        return actual

    def manifest(self) -> Manifest:
        try:
            return Manifest.model_validate_json(self.manifest_path.read_bytes())
        except FileNotFoundError:
            raise BackupError(f"{self.name} has no manifest ({self.manifest_path.name}).") from None
        except ValidationError:
            raise BackupError(f"{self.manifest_path.name} is not a valid backup manifest.") from None

    def good(self) -> bool:
        """Complete and matching its checksum."""
        if not self.complete:
            return False
        try:
            self.check()
        except BackupError:
            return False
        return True

    def delete(self) -> None:
        for path in self.files():
            path.unlink(missing_ok=True)


def local_backups(folder: Path) -> list[LocalBackup]:
    """The backups in `folder`, oldest first (by the time in their names)."""
    if not folder.is_dir():
        return []
    found = []
    for path in folder.iterdir():
        info = BackupName.parse(path.name)
        if info is not None and path.is_file():
            found.append(LocalBackup(path, info))
    return sorted(found, key=lambda backup: backup.info.order)


def backup_folder(settings: Settings) -> Path:
    if settings.backup_dir is None:
        raise BackupError("BACKUP_DIR is not set: it names the folder backups are written to.")
    return settings.backup_dir


def newest_backup(settings: Settings) -> LocalBackup:
    finished = [backup for backup in local_backups(backup_folder(settings)) if backup.complete]
    if not finished:
        raise BackupError(f"There is no finished backup in {settings.backup_dir}.")
    return finished[-1]


def find_local(folder: Path | None, given: str) -> LocalBackup:
    """A backup named by a path, or by its file name in BACKUP_DIR."""
    path = Path(given)
    if not path.exists() and folder is not None and path.name == given:
        path = folder / given
    if not path.is_file():
        raise BackupError(f"No backup file at {given}.")
    info = BackupName.parse(path.name)
    if info is None:
        raise BackupError(
            f"{path.name} is not a Homeroom backup name "
            "(<database>-<YYYYMMDDTHHMMSSZ>.pgdump or .sqlite3.gz)."
        )
    return LocalBackup(path.resolve(), info)


def sha256_of(path: Path, advance: Advance | None = None) -> str:
    digest = hashlib.sha256()
    with path.open("rb") as stream:
        while chunk := stream.read(CHUNK):
            digest.update(chunk)
            if advance is not None:
                advance(len(chunk))
    return digest.hexdigest()


@contextmanager
def atomic_file(final: Path) -> Iterator[BinaryIO]:
    """A new file, mode 600, written under a temporary name and renamed to `final` when the block
    ends without an error (flushed to disk first); removed if it fails. Never replaces a file."""
    partial = final.with_name(f".{final.name}{PARTIAL_SUFFIX}")
    descriptor = os.open(partial, os.O_WRONLY | os.O_CREAT | os.O_EXCL, FILE_MODE)
    try:
        with os.fdopen(descriptor, "wb") as stream:
            yield stream
            stream.flush()
            os.fsync(stream.fileno())
        if final.exists():
            raise BackupError(f"{final.name} already exists; not replacing it.")
        partial.replace(final)
        _sync_folder(final.parent)
    except BaseException:
        partial.unlink(missing_ok=True)
        raise


def write_small(final: Path, data: bytes) -> None:
    with atomic_file(final) as stream:
        stream.write(data)


def _sync_folder(folder: Path) -> None:
    if os.name == "nt":  # folders cannot be opened for fsync on Windows
        return
    descriptor = os.open(folder, os.O_RDONLY)
    try:
        os.fsync(descriptor)
    finally:
        os.close(descriptor)


def prepare_folder(folder: Path) -> None:
    """BACKUP_DIR, made if missing, readable by its owner only (700): one that already exists
    with a wider mode is tightened, or refused if it cannot be."""
    folder.mkdir(mode=FOLDER_MODE, parents=True, exist_ok=True)
    _owner_only(folder)
    if not os.access(folder, os.W_OK):
        raise BackupError(f"BACKUP_DIR {folder} is not writable.")


def _owner_only(folder: Path) -> None:
    """Take every permission of group and others off `folder` (chmod 700); a clear refusal when
    that is not allowed, which is when Homeroom's user does not own it."""
    if os.name == "nt":  # Windows folders have access lists, not modes
        return
    mode = stat.S_IMODE(folder.stat().st_mode)
    if not mode & 0o077:
        return
    try:
        folder.chmod(FOLDER_MODE)
    except OSError as error:
        raise BackupError(
            f"BACKUP_DIR {folder} has mode {mode:o} and cannot be made {FOLDER_MODE:o} "
            f"({error.strerror or error}): backups hold every record, so only Homeroom's user may "
            f"read them. Run `chmod {FOLDER_MODE:o} {folder}` as its owner, or choose a folder "
            "Homeroom's user owns."
        ) from None
    log.warning("backup_dir_tightened", folder=str(folder), mode_before=f"{mode:o}")


def stale_partials(folder: Path, now: datetime, older_than: timedelta = timedelta(days=1)) -> list[Path]:
    """Temporary files left by runs that died: nothing is writing them any more."""
    if not folder.is_dir():
        return []
    cutoff = (now - older_than).timestamp()
    return [
        path
        for path in folder.glob(f".*{PARTIAL_SUFFIX}")
        if path.is_file() and path.stat().st_mtime < cutoff
    ]


def expired(
    backups: Sequence[T],
    order: Callable[[T], tuple[datetime, int]],
    good: Callable[[T], bool],
    now: datetime,
    retention_days: int,
) -> list[T]:
    """The backups retention removes: those made more than `retention_days` ago, except the newest
    good backup, which is kept whatever its age (`good` is asked newest first, until one is)."""
    ordered = sorted(backups, key=order, reverse=True)
    newest_good = next((backup for backup in ordered if good(backup)), None)
    cutoff = now - timedelta(days=retention_days)
    return [backup for backup in ordered if order(backup)[0] < cutoff and backup is not newest_good]
