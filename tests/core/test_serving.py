"""Worker sizing from the CPUs a container may really use."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from backend.core import serving


@pytest.fixture
def four_cpus(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(os, "sched_getaffinity", lambda _pid: {0, 1, 2, 3})


def write(root: Path, relative: str, text: str) -> None:
    path = root / relative
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(text)


@pytest.mark.usefixtures("four_cpus")
@pytest.mark.parametrize(
    ("files", "cpus"),
    [
        ({}, 4),  # no cgroup files: affinity only
        ({"cpu.max": "max 100000\n"}, 4),  # v2, unlimited
        ({"cpu.max": "150000 100000\n"}, 2),  # v2, 1.5 CPUs rounds up
        ({"cpu.max": "50000 100000\n"}, 1),  # v2, half a CPU is still one
        ({"cpu.max": "800000 100000\n"}, 4),  # quota above affinity: affinity wins
        ({"cpu/cpu.cfs_quota_us": "200000\n", "cpu/cpu.cfs_period_us": "100000\n"}, 2),  # v1
        ({"cpu/cpu.cfs_quota_us": "-1\n", "cpu/cpu.cfs_period_us": "100000\n"}, 4),  # v1, unlimited
        ({"cpu.max": "garbage\n"}, 4),  # unreadable: ignored
    ],
)
def test_usable_cpus_honours_quota_and_affinity(tmp_path: Path, files: dict[str, str], cpus: int) -> None:
    for relative, text in files.items():
        write(tmp_path, relative, text)
    assert serving.usable_cpus(tmp_path) == cpus
    assert serving.default_workers(tmp_path) == 2 * cpus + 1


def test_affinity_narrower_than_the_host(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    monkeypatch.setattr(os, "sched_getaffinity", lambda _pid: {3})
    assert serving.usable_cpus(tmp_path) == 1


@pytest.mark.parametrize(
    ("value", "seconds"), [("", 5.0), ("2.5", 2.5), ("0", 0.0), ("-3", 0.0), ("soon", 5.0)]
)
def test_drain_seconds_from_the_environment(
    monkeypatch: pytest.MonkeyPatch, value: str, seconds: float
) -> None:
    monkeypatch.setenv("GUNICORN_DRAIN_SECONDS", value)
    assert serving.drain_seconds() == seconds


def test_ready_is_503_once_draining(client, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(serving, "_draining", type(serving._draining)())
    assert client.get("/ready").status_code == 200
    serving.start_draining()
    response = client.get("/ready")
    assert response.status_code == 503
    assert response.get_json()["failing"] == ["shutdown"]
    assert client.get("/health").status_code == 200


def test_thread_stacks_name_every_thread() -> None:
    stacks = serving.thread_stacks()
    assert any(name.startswith("MainThread") for name in stacks)
    assert all("File " in text for text in stacks.values())


@pytest.mark.parametrize(
    ("data", "complete"),
    [
        (b"GET /health HTTP/1.1\r\nHost: a\r\n", False),  # the head goes on
        (b"GET /health HTTP/1.1\r\nHost: a\r\n\r\n", True),
        (b"POST /x HTTP/1.1\r\nContent-Length: 5\r\n\r\nab", False),  # the body goes on
        (b"POST /x HTTP/1.1\r\ncontent-length:5\r\n\r\nabcde", True),
        (b"POST /x HTTP/1.1\r\nContent-Length: 99999999\r\n\r\n", True),  # over the limit: the app refuses it
        (
            b"GET / HTTP/1.1\r\n" + b"X: y\r\n" * 20000,
            True,
        ),  # a head past 64 KiB: Gunicorn's parser refuses it
    ],
)
def test_a_request_is_handed_to_a_thread_only_once_it_is_in(data: bytes, complete: bool) -> None:
    from backend.core.gunicorn_worker import request_is_in

    assert request_is_in(data, body_limit=1024 * 1024) is complete
