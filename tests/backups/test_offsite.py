"""Off-site copies in a real S3-compatible server (moto) on 127.0.0.1: uploads, retention in the
bucket, fetching after the local copy is gone, and uploads that fail."""

from __future__ import annotations

import hashlib
import shutil
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta

import pytest
from flask import Flask

from backend.backups.databases import counts_at
from backend.backups.files import STAMP, LocalBackup, local_backups
from backend.config import normalise_database_url
from backend.core.db import dispose_pools
from tests.backups.conftest import S3Server, Source, backup_app, cli
from tests.faults import FaultProxy

PREFIX = "school-a/"


@pytest.fixture
def offsite(source: Source, bucket: str) -> Iterator[Flask]:
    app = backup_app(source.url, source.backup_dir, BACKUP_S3_BUCKET=bucket, BACKUP_S3_PREFIX=PREFIX)
    yield app
    dispose_pools(app)


def newest(source: Source) -> LocalBackup:
    return local_backups(source.backup_dir)[-1]


def keys_of(name: str) -> list[str]:
    return sorted(f"{PREFIX}{name}{suffix}" for suffix in ("", ".json", ".sha256"))


def test_create_copies_each_backup_and_its_checksum_off_site(
    source: Source, offsite: Flask, bucket: str, s3_server: S3Server
) -> None:
    result = cli(offsite, "backup", "create")
    assert result.exit_code == 0, result.output
    backup = newest(source)
    assert f"Copied off-site: s3://{bucket}/{PREFIX}{backup.name}" in result.output
    assert s3_server.keys(bucket) == keys_of(backup.name)
    body = s3_server.client().get_object(Bucket=bucket, Key=f"{PREFIX}{backup.name}")["Body"].read()
    assert hashlib.sha256(body).hexdigest() == backup.recorded_checksum()
    [upload] = source.runs(kind="upload")
    assert upload.status == "ok" and upload.file == backup.name
    assert upload.details == {"destination": f"s3://{bucket}/{PREFIX}{backup.name}"}


def test_after_losing_the_server_a_backup_is_fetched_and_restored(
    source: Source, offsite: Flask, target: str
) -> None:
    assert cli(offsite, "backup", "create").exit_code == 0
    backup = newest(source)
    expected = backup.manifest().row_counts
    shutil.rmtree(source.backup_dir)  # the machine and its disk are gone

    fetched = cli(offsite, "backup", "fetch")
    assert fetched.exit_code == 0, fetched.output
    assert f"Fetched and checked: {source.backup_dir / backup.name}" in fetched.output
    restored = cli(offsite, "backup", "restore", backup.name, "--target-url", target)
    assert restored.exit_code == 0, restored.output
    assert counts_at(normalise_database_url(target)) == expected


def put_backdated(s3: S3Server, bucket: str, backup: LocalBackup, days: float, finished: bool = True) -> str:
    when = datetime.now(UTC) - timedelta(days=days)
    name = f"{backup.info.database}-{when.strftime(STAMP)}.{backup.name.split('.', 1)[1]}"
    client = s3.client()
    client.put_object(Bucket=bucket, Key=f"{PREFIX}{name}", Body=backup.path.read_bytes())
    client.put_object(Bucket=bucket, Key=f"{PREFIX}{name}.json", Body=backup.manifest_path.read_bytes())
    if finished:
        checksum = f"{backup.recorded_checksum()}  {name}\n".encode()
        client.put_object(Bucket=bucket, Key=f"{PREFIX}{name}.sha256", Body=checksum)
    return name


def test_the_bucket_is_pruned_by_the_same_rule(
    source: Source, offsite: Flask, bucket: str, s3_server: S3Server
) -> None:
    assert cli(offsite, "backup", "create").exit_code == 0
    fresh = newest(source)
    recent = put_backdated(s3_server, bucket, fresh, 3)
    old = put_backdated(s3_server, bucket, fresh, 10)
    unfinished = put_backdated(s3_server, bucket, fresh, 20, finished=False)
    outside = s3_server.client()
    outside.put_object(Bucket=bucket, Key="someone-else/keep-me.txt", Body=b"not ours")

    result = cli(offsite, "backup", "prune")
    assert result.exit_code == 0, result.output
    assert f"deleted off-site  {old}" in result.output and f"deleted off-site  {unfinished}" in result.output
    remaining = s3_server.keys(bucket)
    assert remaining == sorted([*keys_of(fresh.name), *keys_of(recent), "someone-else/keep-me.txt"])


def test_an_unfinished_copy_is_never_fetched(
    source: Source, offsite: Flask, bucket: str, s3_server: S3Server
) -> None:
    assert cli(offsite, "backup", "create", "--no-upload").exit_code == 0
    unfinished = put_backdated(s3_server, bucket, newest(source), 1, finished=False)
    shutil.rmtree(source.backup_dir)
    result = cli(offsite, "backup", "fetch", unfinished)
    assert result.exit_code == 1
    assert f"holds no finished copy of {unfinished}" in result.output
    assert not (source.backup_dir / unfinished).exists()


def test_an_upload_cut_midway_leaves_nothing_that_looks_finished(
    source: Source, bucket: str, s3_server: S3Server, monkeypatch: pytest.MonkeyPatch
) -> None:
    proxy = FaultProxy(s3_server.port)
    monkeypatch.setenv("AWS_ENDPOINT_URL", f"http://127.0.0.1:{proxy.port}")
    app = backup_app(source.url, source.backup_dir, BACKUP_S3_BUCKET=bucket, BACKUP_S3_PREFIX=PREFIX)
    try:
        assert cli(app, "backup", "create", "--no-upload").exit_code == 0
        backup = newest(source)
        proxy.cut_after_bytes = backup.path.stat().st_size // 2  # every attempt dies halfway
        result = cli(app, "backup", "upload", backup.name)
        assert result.exit_code == 1
        assert f"The off-site upload to s3://{bucket}/{PREFIX} failed" in result.output
        assert s3_server.keys(bucket) == []  # asked of the server itself, past the proxy
        [upload] = source.runs(kind="upload")
        assert upload.status == "failed" and "failed" in (upload.error or "")

        proxy.cut_after_bytes = None  # the network is back: the same command finishes the job
        assert cli(app, "backup", "upload", backup.name).exit_code == 0
        assert s3_server.keys(bucket) == keys_of(backup.name)
    finally:
        dispose_pools(app)
        proxy.close()


def test_an_unreachable_endpoint_fails_the_upload_not_the_backup(
    source: Source, bucket: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("AWS_ENDPOINT_URL", "http://127.0.0.1:9")  # nothing listens there
    app = backup_app(source.url, source.backup_dir, BACKUP_S3_BUCKET=bucket)
    try:
        result = cli(app, "backup", "create")
    finally:
        dispose_pools(app)
    assert result.exit_code == 1
    assert "Backup written:" in result.output
    assert "The local backup is complete; copy it again with: flask backup upload" in result.output
    backup = newest(source)
    assert backup.good()
    [create] = source.runs(kind="create")
    [upload] = source.runs(kind="upload")
    assert create.status == "ok"
    assert upload.status == "failed" and "Could not connect" in (upload.error or "")
    [prune] = source.runs(kind="prune")  # local retention still ran, the bucket was left alone
    assert prune.status == "ok" and prune.details is not None and prune.details["remote_deleted"] == []
