"""Off-site copies in an S3 bucket (BACKUP_S3_BUCKET), through boto3.

The endpoint, region and credentials come from boto3's own sources: AWS_ENDPOINT_URL (for
S3-compatible stores), AWS_DEFAULT_REGION, AWS_ACCESS_KEY_ID / AWS_SECRET_ACCESS_KEY or a role.
Each backup goes up as its three files under BACKUP_S3_PREFIX, the checksum last: a backup whose
checksum object is missing is unfinished, and nothing treats it as good. A failed upload deletes
what it had put up, where it still can.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path
from typing import TYPE_CHECKING

import boto3
from boto3.s3.transfer import TransferConfig
from botocore.config import Config
from botocore.exceptions import BotoCoreError, ClientError

from backend.backups.files import (
    BackupError,
    BackupName,
    LocalBackup,
    Stage,
    atomic_file,
    expired,
    find_local,
)
from backend.config import Settings

if TYPE_CHECKING:
    from types_boto3_s3 import S3Client

CLIENT_CONFIG = Config(
    connect_timeout=5,
    read_timeout=60,
    retries={"max_attempts": 3, "mode": "standard"},
)
SIDECARS = (".json", ".sha256")  # uploaded after the dump, the checksum last


def _client() -> S3Client:
    return boto3.client("s3", config=CLIENT_CONFIG)


def _describe(error: Exception) -> str:
    if isinstance(error, ClientError):
        info = error.response.get("Error", {})
        return f"{info.get('Code', 'error')}: {info.get('Message', '')}".strip()
    return f"{type(error).__name__}: {error}"


@dataclass(frozen=True)
class Bucket:
    name: str
    prefix: str

    def key(self, file_name: str) -> str:
        return f"{self.prefix}{file_name}"

    def where(self, file_name: str = "") -> str:
        return f"s3://{self.name}/{self.key(file_name)}"


@dataclass
class RemoteBackup:
    info: BackupName
    keys: set[str] = field(default_factory=set)

    @property
    def name(self) -> str:
        return self.info.name

    @property
    def complete(self) -> bool:
        return {f"{self.name}{suffix}" for suffix in ("", *SIDECARS)} <= self.keys


def bucket_of(settings: Settings) -> Bucket | None:
    if not settings.backup_s3_bucket:
        return None
    return Bucket(settings.backup_s3_bucket, settings.backup_s3_prefix)


def reachable(bucket: Bucket, timeout: float) -> None:
    """Raise unless the bucket answers within `timeout` (one attempt)."""
    quick = Config(connect_timeout=timeout, read_timeout=timeout, retries={"max_attempts": 1})
    boto3.client("s3", config=quick).head_bucket(Bucket=bucket.name)


def upload(bucket: Bucket, backup: LocalBackup, stage: Stage) -> int:
    """Put the backup's three files in the bucket; the bytes sent. Raises BackupError on failure,
    having removed what it put up (so no partial upload is left looking finished)."""
    client = _client()
    sent: list[str] = []
    size = backup.path.stat().st_size
    transfer = TransferConfig(multipart_threshold=64 * 1024 * 1024, multipart_chunksize=64 * 1024 * 1024)
    try:
        with stage(f"Uploading to {bucket.where()}", size) as advance:
            sent.append(bucket.key(backup.name))
            client.upload_file(str(backup.path), bucket.name, sent[-1], Config=transfer, Callback=advance)
        for sidecar in (backup.manifest_path, backup.checksum_path):
            sent.append(bucket.key(sidecar.name))
            client.put_object(Bucket=bucket.name, Key=sent[-1], Body=sidecar.read_bytes())
    except (BotoCoreError, ClientError, OSError) as error:
        _remove(client, bucket, sent)
        raise BackupError(f"The off-site upload to {bucket.where()} failed: {_describe(error)}") from None
    return size + backup.manifest_path.stat().st_size + backup.checksum_path.stat().st_size


def _remove(client: S3Client, bucket: Bucket, keys: list[str]) -> None:
    for key in reversed(keys):  # the checksum first: the backup stops looking finished at once
        try:
            client.delete_object(Bucket=bucket.name, Key=key)
        except (BotoCoreError, ClientError):
            continue  # unreachable now: the missing checksum keeps what is left from counting


def remote_backups(bucket: Bucket) -> list[RemoteBackup]:
    """The backups under the prefix, oldest first, finished or not."""
    client = _client()
    found: dict[str, RemoteBackup] = {}
    try:
        for page in client.get_paginator("list_objects_v2").paginate(
            Bucket=bucket.name, Prefix=bucket.prefix
        ):
            for item in page.get("Contents", []):
                file_name = item["Key"][len(bucket.prefix) :]
                base = file_name.removesuffix(".json").removesuffix(".sha256")
                info = BackupName.parse(base)
                if info is not None:
                    found.setdefault(base, RemoteBackup(info)).keys.add(file_name)
    except (BotoCoreError, ClientError) as error:
        raise BackupError(f"Cannot list {bucket.where()}: {_describe(error)}") from None
    return sorted(found.values(), key=lambda backup: backup.info.order)


def prune_remote(bucket: Bucket, now: datetime, retention_days: int) -> list[str]:
    """Retention in the bucket, by the local rule: the newest finished backup always stays."""
    client = _client()
    gone = expired(remote_backups(bucket), lambda b: b.info.order, lambda b: b.complete, now, retention_days)
    try:
        for backup in gone:
            for suffix in (".sha256", ".json", ""):
                if f"{backup.name}{suffix}" in backup.keys:
                    client.delete_object(Bucket=bucket.name, Key=bucket.key(f"{backup.name}{suffix}"))
    except (BotoCoreError, ClientError) as error:
        raise BackupError(f"Pruning {bucket.where()} failed: {_describe(error)}") from None
    return [backup.name for backup in gone]


def fetch(bucket: Bucket, name: str | None, folder: Path, stage: Stage) -> LocalBackup:
    """Download a finished backup (the newest if no name is given) into `folder` and check it."""
    chosen = _finished_copy(bucket, name)
    client = _client()
    target = folder / chosen.name
    if target.exists():
        raise BackupError(f"{target} already exists; not replacing it.")
    try:
        size = client.head_object(Bucket=bucket.name, Key=bucket.key(chosen.name))["ContentLength"]
        with stage(f"Downloading {chosen.name}", size) as advance:
            _download(client, bucket, chosen.name, folder, advance)
        for suffix in SIDECARS:
            _download(client, bucket, f"{chosen.name}{suffix}", folder, None)
    except (BotoCoreError, ClientError) as error:
        for suffix in ("", *SIDECARS):
            (folder / f"{chosen.name}{suffix}").unlink(missing_ok=True)
        raise BackupError(f"Downloading {bucket.where(chosen.name)} failed: {_describe(error)}") from None
    backup = find_local(folder, chosen.name)
    backup.check()
    return backup


def _finished_copy(bucket: Bucket, name: str | None) -> RemoteBackup:
    """The newest finished backup in the bucket (of that name, if one is given)."""
    finished = [backup for backup in remote_backups(bucket) if backup.complete]
    if name is not None:
        finished = [backup for backup in finished if backup.name == name]
    if not finished:
        which = name or "any backup"
        raise BackupError(f"{bucket.where()} holds no finished copy of {which}.")
    return finished[-1]


def _download(
    client: S3Client, bucket: Bucket, file_name: str, folder: Path, advance: Callable[[int], None] | None
) -> None:
    with atomic_file(folder / file_name) as stream:
        client.download_fileobj(bucket.name, bucket.key(file_name), stream, Callback=advance)
