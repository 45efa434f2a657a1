"""Slow clients against real Gunicorn: how long /health and a signed-in request take while fifty
connections trickle their headers or bodies (the default 2 workers x 4 threads, SQLite).

    .venv/bin/python bench/slow_clients.py [--slow 50] [--requests 20]

Target: every answer within a second. Starts Gunicorn on a free 127.0.0.1 port with a database of
its own in a temporary folder, bounds every loop, stops everything and prints the latencies.
"""

from __future__ import annotations

import argparse
import json
import os
import select
import signal
import socket
import statistics
import subprocess
import sys
import tempfile
import threading
import time
import urllib.request
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from backend import create_app  # noqa: E402
from backend.auth.schemas import UserCreateIn  # noqa: E402
from backend.auth.user_service import create_user  # noqa: E402
from backend.schools.service import create_school  # noqa: E402
from backend.tenancy import Role  # noqa: E402

PASSWORD = "a-bench-passphrase-42"  # noqa: S105 - for the throwaway database of this run


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def trickle(port: int, head: bytes, tail: bytes, seconds: float) -> None:
    """Send `head`, then one byte of `tail` every 0.5 s until answered or `seconds` are up."""
    try:
        with socket.create_connection(("127.0.0.1", port), timeout=5) as sock:
            sock.sendall(head)
            for byte in tail[: int(seconds / 0.5)]:
                if select.select([sock], [], [], 0.5)[0]:
                    return
                sock.sendall(bytes([byte]))
    except OSError:
        pass


def timed_get(port: int, path: str, headers: dict[str, str]) -> float:
    started = time.perf_counter()
    request = urllib.request.Request(f"http://127.0.0.1:{port}{path}", headers=headers)
    with urllib.request.urlopen(request, timeout=30) as response:  # noqa: S310 - 127.0.0.1 only
        response.read()
    return time.perf_counter() - started


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--slow", type=int, default=50, help="slow connections (at most 500)")
    parser.add_argument("--requests", type=int, default=20, help="timed requests of each kind (at most 1000)")
    args = parser.parse_args()
    slow, count = min(args.slow, 500), min(args.requests, 1000)
    with tempfile.TemporaryDirectory() as folder:
        env = {
            **os.environ,
            "HOMEROOM_ENV_FILE": "",
            "APP_ENV": "testing",
            "LOG_FORMAT": "json",
            "DATABASE_URL": f"sqlite:///{folder}/bench.db",
            "REDIS_URL": "",
            "RATE_LIMIT_DEFAULT": "100000 per minute",
        }
        app = create_app({k: v for k, v in env.items() if k.isupper() and k != "PATH"})
        with app.app_context():
            from flask_migrate import upgrade

            upgrade()
            school = create_school("Bench", "bench", "UTC", "GBP")
            create_user(
                school.id,
                UserCreateIn(email="b@example.org", full_name="B", role=Role.ADMIN, password=PASSWORD),
            )
        port = free_port()
        server = subprocess.Popen(
            [str(ROOT / ".venv/bin/gunicorn"), "--config", "gunicorn_config.py", "wsgi:application"],
            cwd=ROOT,
            env={**env, "PORT": str(port), "GUNICORN_WORKERS": "2", "GUNICORN_THREADS": "4"},
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
        try:
            deadline = time.monotonic() + 30
            while time.monotonic() < deadline:
                try:
                    timed_get(port, "/health", {})
                    break
                except OSError:
                    time.sleep(0.2)
            login = urllib.request.Request(
                f"http://127.0.0.1:{port}/api/auth/login",
                data=json.dumps({"email": "b@example.org", "password": PASSWORD}).encode(),
                headers={"Content-Type": "application/json"},
            )
            with urllib.request.urlopen(login, timeout=30) as response:  # noqa: S310 - 127.0.0.1 only
                token = json.loads(response.read())["access_token"]
            body = b'{"email": "slow@example.org", "password": "' + b"x" * 60 + b'"}'
            heads = [
                (b"GET /health HTTP/1.1\r\nHost: a\r\n", b"X-Slow: " + b"a" * 60 + b"\r\n\r\n"),
                (
                    b"POST /api/auth/login HTTP/1.1\r\nHost: a\r\nContent-Type: application/json\r\n"
                    b"Content-Length: %d\r\n\r\n" % len(body),
                    body,
                ),
            ]
            threads = [
                threading.Thread(target=trickle, args=(port, *heads[n % 2], 20.0), daemon=True)
                for n in range(slow)
            ]
            for thread in threads:
                thread.start()
            time.sleep(1.5)
            health = [timed_get(port, "/health", {}) for _ in range(count)]
            me = [timed_get(port, "/api/auth/me", {"Authorization": f"Bearer {token}"}) for _ in range(count)]
            for name, times in (("GET /health", health), ("GET /api/auth/me", me)):
                print(
                    f"{name:18} with {slow} slow clients: median {statistics.median(times) * 1000:.1f} ms, "
                    f"max {max(times) * 1000:.1f} ms over {len(times)} requests"
                )
        finally:
            server.send_signal(signal.SIGINT)
            server.wait(timeout=30)


if __name__ == "__main__":
    main()
