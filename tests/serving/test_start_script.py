"""start_production.sh, run for real in a copy of the repository (sharing this .venv)."""

from __future__ import annotations

import base64
import shutil
import signal
import sqlite3
import stat
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

from backend.config import PROJECT_ROOT
from tests.conftest import free_port
from tests.serving.conftest import clean_env, get

SHELLCHECK = str(Path(sys.executable).with_name("shellcheck"))


def run(root: Path, *args: str, timeout: float = 120, **env: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        ["./start_production.sh", *args],
        cwd=root,
        env=clean_env(**env),
        capture_output=True,
        text=True,
        timeout=timeout,
    )


def env_file(root: Path) -> dict[str, str]:
    lines = (root / ".env").read_text().splitlines()
    return dict(line.split("=", 1) for line in lines if line and not line.startswith("#"))


def test_scripts_are_shellcheck_clean() -> None:
    scripts = [
        "start_production.sh",
        "scripts/test.sh",
        "scripts/lib.sh",
        "scripts/backup_database.sh",
        "scripts/restore_database.sh",
        ".ci/run",
    ]
    result = subprocess.run([SHELLCHECK, "-x", *scripts], cwd=PROJECT_ROOT, capture_output=True, text=True)
    assert result.returncode == 0, result.stdout


def test_help_and_unknown_flags(checkout: Path) -> None:
    result = run(checkout, "--help")
    assert result.returncode == 0
    for flag in ("--check", "--migrate-only", "--no-install", "--help"):
        assert flag in result.stdout
    wrong = run(checkout, "--bogus")
    assert wrong.returncode == 2
    assert "unknown option: --bogus" in wrong.stderr


def test_first_run_writes_env_with_fresh_secrets(checkout: Path, tmp_path: Path) -> None:
    result = run(checkout, "--check", "--no-install")
    assert result.returncode == 0, result.stderr
    assert "created .env from .env.example" in result.stdout
    assert "\033[" not in result.stdout + result.stderr  # no colour when not on a terminal
    values = env_file(checkout)
    assert values["SECRET_KEY"] != env_file_example()["SECRET_KEY"]
    assert len(values["SECRET_KEY"]) >= 48
    assert len(values["JWT_SECRET_KEY"]) >= 48 and values["JWT_SECRET_KEY"] != values["SECRET_KEY"]
    assert len(base64.urlsafe_b64decode(values["ENCRYPTION_KEY"])) == 32  # a Fernet key
    assert stat.S_IMODE((checkout / ".env").stat().st_mode) == 0o600
    assert values["SECRET_KEY"] not in result.stdout + result.stderr

    second = tmp_path / "second"
    shutil.copytree(checkout, second, ignore=shutil.ignore_patterns(".env", ".venv"))
    (second / ".venv").symlink_to(PROJECT_ROOT / ".venv")
    assert run(second, "--check", "--no-install").returncode == 0
    assert env_file(second)["SECRET_KEY"] != values["SECRET_KEY"]
    assert env_file(second)["ENCRYPTION_KEY"] != values["ENCRYPTION_KEY"]

    again = run(checkout, "--check", "--no-install")
    assert "created .env" not in again.stdout
    assert env_file(checkout) == values  # an existing .env is never rewritten


def env_file_example() -> dict[str, str]:
    lines = (PROJECT_ROOT / ".env.example").read_text().splitlines()
    return dict(line.split("=", 1) for line in lines if line and not line.startswith("#"))


def test_invalid_configuration_lists_every_problem(checkout: Path) -> None:
    result = run(
        checkout,
        "--check",
        "--no-install",
        CORS_ORIGINS="*",
        SECRET_KEY="short-secret",
        MAX_CONTENT_LENGTH="huge",
    )
    assert result.returncode == 78
    assert "SECRET_KEY: must be at least 32 characters long" in result.stderr
    assert "CORS_ORIGINS: '*' is not allowed" in result.stderr
    assert "MAX_CONTENT_LENGTH: Input should be a valid integer" in result.stderr
    assert "short-secret" not in result.stdout + result.stderr
    assert "Traceback" not in result.stderr


def test_environment_wins_over_env_file(checkout: Path) -> None:
    run(checkout, "--check", "--no-install")
    result = run(checkout, "--check", "--no-install", CORS_ORIGINS="*")  # .env has a valid origin
    assert result.returncode == 78


def test_no_install_needs_a_venv(checkout: Path) -> None:
    (checkout / ".venv").unlink()
    result = run(checkout, "--no-install")
    assert result.returncode != 0
    assert "--no-install given but .venv does not exist" in result.stderr


def test_database_wait_is_bounded(checkout: Path) -> None:
    # The script gives up after DB_WAIT_TIMEOUT and says so; run()'s own timeout keeps a hang from
    # passing unnoticed (no wall-clock assertion: a loaded machine is slower).
    result = run(
        checkout,
        "--migrate-only",
        "--no-install",
        timeout=60,
        DATABASE_URL="postgresql://postgres@127.0.0.1:9/nothing",
        DB_WAIT_TIMEOUT="2",
    )
    assert result.returncode != 0
    assert "did not answer within 2 s" in result.stderr


def test_migrate_only_migrates_and_stops(checkout: Path) -> None:
    result = run(checkout, "--migrate-only", "--no-install")
    assert result.returncode == 0, result.stderr
    assert "Starting Gunicorn" not in result.stdout
    with sqlite3.connect(checkout / "instance" / "homeroom.db") as connection:
        assert connection.execute("SELECT count(*) FROM alembic_version").fetchone() == (1,)


def _serve(root: Path, log: Path, **env: str) -> subprocess.Popen[str]:
    """Start the script in the background, its output in `log` (a pipe nobody reads could fill up
    and stall the server), and wait until /ready answers 200."""
    with log.open("w") as out:
        process = subprocess.Popen(
            ["./start_production.sh", "--no-install"],
            cwd=root,
            env=clean_env(**env),
            stdout=out,
            stderr=subprocess.STDOUT,
            text=True,
        )
    deadline = time.monotonic() + 60
    status = 0
    while time.monotonic() < deadline and status != 200:
        assert process.poll() is None, log.read_text()
        try:
            status = get(int(env["PORT"]), "/ready", timeout=2)[0]
        except OSError:
            time.sleep(0.2)
    assert status == 200, log.read_text()  # SQLite migrated, no Redis needed
    return process


def _stop(process: subprocess.Popen[str]) -> None:
    if process.poll() is None:
        process.kill()
        process.wait(timeout=10)


# Gunicorn's graceful timeout from .env is 30 s; the margin is for a loaded machine.
EXIT_WITHIN = 30 + 30


def test_the_generated_env_keeps_the_shutdown_drain(checkout: Path, tmp_path: Path) -> None:
    """Served from the .env the script writes on a first run: on SIGTERM /ready turns 503 while the
    port stays open and /health answers, so a load balancer sees the drain before the close."""
    port = str(free_port())
    # GUNICORN_DRAIN_SECONDS=5 and the worker class come from the generated .env.
    process = _serve(checkout, tmp_path / "out.log", PORT=port, GUNICORN_WORKERS="1")
    try:
        process.send_signal(signal.SIGTERM)
        time.sleep(1)
        status, body = get(int(port), "/ready", timeout=5)
        assert (status, body["failing"]) == (503, ["shutdown"])
        assert get(int(port), "/health", timeout=5) == (200, {"status": "ok"})
        assert process.wait(timeout=EXIT_WITHIN) == 0, (tmp_path / "out.log").read_text()
        assert env_file(checkout)["GUNICORN_WORKER_CLASS"].endswith("DrainingThreadWorker")
    finally:
        _stop(process)


def test_serves_out_of_the_box_and_stops_cleanly(checkout: Path, tmp_path: Path) -> None:
    port = str(free_port())
    process = _serve(
        checkout, tmp_path / "out.log", PORT=port, GUNICORN_WORKERS="2", GUNICORN_DRAIN_SECONDS="0"
    )
    try:
        assert get(int(port), "/health") == (200, {"status": "ok"})
        # Without SMTP_URL the runner of background jobs (scheduled announcements) runs beside
        # Gunicorn all the same, and one SIGTERM to the script stops both.
        process.send_signal(signal.SIGTERM)
        assert process.wait(timeout=EXIT_WITHIN) == 0, (tmp_path / "out.log").read_text()
        output = (tmp_path / "out.log").read_text()
        assert "SMTP_URL is not set: email stays queued" in output
        assert output.count("starting the runner of mail and background jobs") == 1
        assert "outbox_sender_stopped" in output, output
        # The start line says where the server listens: every interface, and the local address.
        assert f"Starting Gunicorn on port {port} of every interface (0.0.0.0)" in output
        assert f"http://127.0.0.1:{port} from this machine" in output
    finally:
        _stop(process)


def test_with_smtp_the_mail_sender_runs_beside_gunicorn_and_stops_with_it(
    checkout: Path, tmp_path: Path
) -> None:
    """With SMTP_URL set, a reset requested through the API arrives by email (the sender runs
    beside Gunicorn), and one SIGTERM to the script stops both, cleanly."""
    from tests.mail.smtp_server import SMTPServer

    smtp = SMTPServer()
    smtp.start()
    port = str(free_port())
    env = {
        "SMTP_URL": smtp.url,
        "MAIL_FROM": "Homeroom <no-reply@homeroom.test>",
        "OUTBOX_POLL_SECONDS": "0.2",
    }
    assert run(checkout, "--migrate-only", **env).returncode == 0
    flask = [str(checkout / ".venv/bin/flask"), "--app", "wsgi"]
    created = [
        [
            *flask,
            "schools",
            "create",
            "--name",
            "Mail School",
            "--slug",
            "mail",
            "--timezone",
            "UTC",
            "--currency",
            "GBP",
        ],
        [
            *flask,
            "users",
            "create",
            "--school",
            "mail",
            "--email",
            "head@example.org",
            "--full-name",
            "Head",
            "--role",
            "admin",
            "--password-stdin",
        ],
    ]
    for command in created:
        done = subprocess.run(
            command,
            cwd=checkout,
            env=clean_env(**env),
            input="a-long-enough-passphrase-1\n",
            capture_output=True,
            text=True,
            timeout=60,
        )
        assert done.returncode == 0, done.stdout + done.stderr
    process = _serve(
        checkout, tmp_path / "out.log", PORT=port, GUNICORN_WORKERS="1", GUNICORN_DRAIN_SECONDS="0", **env
    )
    try:
        request = urllib.request.Request(
            f"http://127.0.0.1:{port}/api/auth/password-reset",
            data=b'{"email": "head@example.org"}',
            headers={"Content-Type": "application/json"},
            method="POST",
        )
        with urllib.request.urlopen(request, timeout=10) as response:  # noqa: S310 - 127.0.0.1
            assert response.status == 202
        deadline = time.monotonic() + 30
        while not smtp.to("head@example.org") and time.monotonic() < deadline:
            time.sleep(0.2)
        assert smtp.to("head@example.org"), (tmp_path / "out.log").read_text()
        process.send_signal(signal.SIGTERM)
        assert process.wait(timeout=EXIT_WITHIN) == 0, (tmp_path / "out.log").read_text()
        output = (tmp_path / "out.log").read_text()
        assert (
            output.count("starting the runner of mail and background jobs") == 1
            and "outbox_sender_stopped" in output
        )
        assert not list(checkout.glob("*.db"))  # no command left metrics files in the checkout
    finally:
        _stop(process)
        smtp.stop()
