"""Proof with a real Prometheus: Gunicorn with 2 workers recycled every few requests, a known
number of requests, Debian's `prometheus` scraping /metrics with the bearer token; the total it
scraped equals what was sent."""

from __future__ import annotations

import json
import shutil
import subprocess
import time
import urllib.parse
import urllib.request
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

from tests.conftest import free_port
from tests.serving.conftest import Server
from tests.serving.conftest import gunicorn as gunicorn

TOKEN = "prometheus-test-token-0123"
REQUESTS = 120
QUERY = 'sum(homeroom_http_requests_total{route="/api/_test/pid"})'


@pytest.fixture
def prometheus(tmp_path: Path) -> Iterator[Callable[[int], str]]:
    """Start `prometheus` scraping 127.0.0.1:<port> every second; yields a function returning its
    HTTP API's base URL."""
    processes: list[subprocess.Popen[bytes]] = []
    binary = shutil.which("prometheus")
    assert binary, "Debian's prometheus package is required (scripts/test.sh installs it)"

    def start(target_port: int) -> str:
        token = tmp_path / "token"
        token.write_text(TOKEN)
        config = tmp_path / "prometheus.yml"
        config.write_text(
            "global:\n  scrape_interval: 1s\n  scrape_timeout: 1s\n"
            "scrape_configs:\n  - job_name: homeroom\n    metrics_path: /metrics\n"
            f"    authorization:\n      type: Bearer\n      credentials_file: {token}\n"
            f"    static_configs:\n      - targets: ['127.0.0.1:{target_port}']\n"
        )
        port = free_port()
        log = (tmp_path / "prometheus.log").open("wb")
        processes.append(
            subprocess.Popen(
                [
                    binary,
                    f"--config.file={config}",
                    f"--storage.tsdb.path={tmp_path / 'data'}",
                    f"--web.listen-address=127.0.0.1:{port}",
                ],
                stdout=log,
                stderr=subprocess.STDOUT,
            )
        )
        base = f"http://127.0.0.1:{port}"
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline:
            try:
                with urllib.request.urlopen(f"{base}/-/ready", timeout=2) as answer:  # noqa: S310 - 127.0.0.1
                    if answer.status == 200:
                        return base
            except OSError:
                time.sleep(0.2)
        raise RuntimeError(f"prometheus did not start: {(tmp_path / 'prometheus.log').read_text()[-2000:]}")

    yield start
    for process in processes:
        process.terminate()
        process.wait(timeout=20)


def query(base: str, expression: str) -> float | None:
    url = f"{base}/api/v1/query?{urllib.parse.urlencode({'query': expression})}"
    with urllib.request.urlopen(url, timeout=5) as answer:  # noqa: S310 - 127.0.0.1
        result = json.loads(answer.read())["data"]["result"]
    return float(result[0]["value"][1]) if result else None


def test_the_scraped_total_is_exact_across_recycled_workers(
    gunicorn: Callable[..., Server],
    prometheus: Callable[[int], str],
) -> None:
    server = gunicorn(
        METRICS_TOKEN=TOKEN,
        GUNICORN_WORKERS="2",
        GUNICORN_MAX_REQUESTS="15",
        GUNICORN_MAX_REQUESTS_JITTER="0",
    )
    base = prometheus(server.port)
    pids = set()
    for _ in range(REQUESTS):
        status, body = server.get("/api/_test/pid")
        assert status == 200
        pids.add(body["pid"])
    assert len(pids) > 2  # workers were recycled while counting

    deadline, seen = time.monotonic() + 60, None
    while time.monotonic() < deadline:
        seen = query(base, QUERY)
        if seen == REQUESTS:
            break
        time.sleep(0.5)
    assert seen == REQUESTS
    assert query(base, 'up{job="homeroom"}') == 1.0
