"""A newcomer's first use, in a copy of the repository: the README's commands write nothing outside
the data folders, every command reads its configuration by one rule, and Gunicorn's metrics folder
is cleared of its own files only (an operator's folder, and what else it holds, stays)."""

from __future__ import annotations

import os
import signal
import subprocess
from collections.abc import Callable
from pathlib import Path

from tests.serving.conftest import Server, clean_env

# Ignored by git (.gitignore), so not the "untracked files" a newcomer sees.
IGNORED = {".venv", "instance", "__pycache__", ".pytest_cache", ".ruff_cache", ".mypy_cache"}
METRICS_FILE_PREFIXES = ("counter_", "gauge_", "histogram_", "summary_")


def files_in(root: Path) -> set[str]:
    """Every file under `root`, relative, leaving out what git ignores."""
    found: set[str] = set()
    for folder, subfolders, names in os.walk(root):
        subfolders[:] = [name for name in subfolders if name not in IGNORED]
        found.update(str(Path(folder, name).relative_to(root)) for name in names)
    return found


def start_script(root: Path, *args: str, **env: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        ["./start_production.sh", "--no-install", *args],
        cwd=root,
        env=clean_env(**env),
        capture_output=True,
        text=True,
        timeout=120,
    )


def flask(root: Path, *args: str, cwd: Path | None = None, **env: str) -> subprocess.CompletedProcess[str]:
    """`.venv/bin/flask --app wsgi ...` as the README has it (from another folder: wsgi.py's path)."""
    app = "wsgi" if cwd is None else str(root / "wsgi.py")
    return subprocess.run(
        [str(root / ".venv" / "bin" / "flask"), "--app", app, *args],
        cwd=cwd or root,
        env=clean_env(**env),
        capture_output=True,
        text=True,
        timeout=120,
    )


def test_the_readme_commands_leave_no_new_files(checkout: Path) -> None:
    before = files_in(checkout)
    checked = start_script(checkout, "--check")
    assert checked.returncode == 0, checked.stderr
    migrated = start_script(checkout, "--migrate-only")
    assert migrated.returncode == 0, migrated.stderr
    for command in (["config", "check"], ["outbox", "status"], ["db", "current"]):
        done = flask(checkout, *command)
        assert done.returncode == 0, done.stdout + done.stderr
    assert files_in(checkout) - before == {".env"}  # .env is ignored by git; nothing else is new
    assert (checkout / "instance" / "homeroom.db").is_file()  # the data went where it belongs
    assert not [name for name in os.listdir(checkout / "instance") if name.startswith(METRICS_FILE_PREFIXES)]


def test_the_generated_env_holds_only_valid_lines(checkout: Path) -> None:
    assert start_script(checkout, "--check").returncode == 0
    for line in (checkout / ".env").read_text().splitlines():
        if line and not line.startswith("#"):
            name, _, value = line.partition("=")
            assert name.isidentifier() and value.strip(), line
    assert "# PROMETHEUS_MULTIPROC_DIR=" in (checkout / ".env").read_text().splitlines()


def test_flask_commands_read_the_file_homeroom_env_file_names(checkout: Path, tmp_path: Path) -> None:
    """The Flask CLI copies .env into the environment by itself; HOMEROOM_ENV_FILE still decides,
    as for the server: .env (valid) is not read when another file (with a refused origin) is named."""
    assert start_script(checkout, "--check").returncode == 0  # writes a valid .env
    other = tmp_path / "other.env"
    other.write_text("CORS_ORIGINS=*\n")
    refused = flask(checkout, "config", "check", HOMEROOM_ENV_FILE=str(other))
    assert refused.returncode == 78, refused.stdout + refused.stderr
    assert "CORS_ORIGINS: '*' is not allowed" in refused.stderr
    # The environment still wins over the named file, even with the same value as .env's.
    dot_env = dict(
        line.split("=", 1) for line in (checkout / ".env").read_text().splitlines() if line[:1].isalpha()
    )
    same = flask(
        checkout, "config", "check", HOMEROOM_ENV_FILE=str(other), CORS_ORIGINS=dot_env["CORS_ORIGINS"]
    )
    assert same.returncode == 0, same.stderr
    # By default the project's .env, whatever the working folder (and whatever .env lies there).
    elsewhere = tmp_path / "elsewhere"
    elsewhere.mkdir()
    (elsewhere / ".env").write_text("CORS_ORIGINS=*\n")
    assert flask(checkout, "config", "check", cwd=elsewhere).returncode == 0
    assert not [name for name in os.listdir(elsewhere) if name != ".env"]


def test_the_start_script_reads_the_file_homeroom_env_file_names(checkout: Path, tmp_path: Path) -> None:
    other = tmp_path / "other.env"
    other.write_text("CORS_ORIGINS=*\n")
    refused = start_script(checkout, "--check", HOMEROOM_ENV_FILE=str(other))
    assert refused.returncode == 78
    assert "CORS_ORIGINS: '*' is not allowed" in refused.stderr
    assert not (checkout / ".env").exists()  # a named file: no .env is written
    missing = start_script(checkout, "--check", HOMEROOM_ENV_FILE=str(tmp_path / "nowhere.env"))
    assert missing.returncode == 78
    assert f"HOMEROOM_ENV_FILE names {tmp_path / 'nowhere.env'}, which does not exist" in missing.stderr


# --- Gunicorn's metrics folder ------------------------------------------------------------------


def metrics_files(folder: Path) -> list[str]:
    return sorted(name for name in os.listdir(folder) if name.startswith(METRICS_FILE_PREFIXES))


def stop(server: Server) -> None:
    server.process.send_signal(signal.SIGTERM)
    assert server.wait_exit(timeout=30) == 0, server.log_path.read_text()[-3000:]


def test_a_stop_clears_only_metrics_files_from_an_operators_folder(
    gunicorn: Callable[..., Server], tmp_path: Path
) -> None:
    folder = tmp_path / "operator-metrics"
    folder.mkdir()
    (folder / "keep.txt").write_text("the operator's notes\n")
    (folder / "notes.db").write_bytes(b"an operator's own database")
    (folder / "counter_999999.db").write_bytes(b"\0" * 16)  # left by an earlier server: cleared
    server = gunicorn(PROMETHEUS_MULTIPROC_DIR=str(folder), GUNICORN_WORKERS="1")
    assert server.get("/health")[0] == 200
    assert (folder / "keep.txt").read_text() == "the operator's notes\n"  # the start kept it
    assert "counter_999999.db" not in metrics_files(folder)
    assert metrics_files(folder)  # the server's own values are there
    stop(server)
    assert folder.is_dir()
    assert sorted(os.listdir(folder)) == ["keep.txt", "notes.db"]
    assert (folder / "notes.db").read_bytes() == b"an operator's own database"


def test_a_stop_removes_the_folder_homeroom_made(gunicorn: Callable[..., Server], tmp_path: Path) -> None:
    folder = tmp_path / "made" / "metrics"  # does not exist yet: Homeroom makes it
    server = gunicorn(PROMETHEUS_MULTIPROC_DIR=str(folder), GUNICORN_WORKERS="1")
    assert server.get("/health")[0] == 200
    assert metrics_files(folder)
    stop(server)
    assert not folder.exists()
    assert (tmp_path / "made").is_dir()  # only what it made


def test_without_a_folder_named_a_fresh_one_is_made_and_removed(gunicorn: Callable[..., Server]) -> None:
    server = gunicorn(PROMETHEUS_MULTIPROC_DIR="", GUNICORN_WORKERS="1")
    started = next(line for line in server.logs() if line.get("event") == "gunicorn_started")
    folder = Path(started["metrics_dir"])
    assert folder.is_dir() and metrics_files(folder)
    stop(server)
    assert not folder.exists()
