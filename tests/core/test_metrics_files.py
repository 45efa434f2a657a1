"""Outside a Gunicorn server started with gunicorn_config.py, metrics stay in memory: a process
writes no metrics file, wherever PROMETHEUS_MULTIPROC_DIR points (or when it is set but empty,
which prometheus_client would read as "the working folder")."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

from backend.config import PROJECT_ROOT

SHOW_MODE = (
    "import wsgi; from backend.core.metrics import MULTIPROCESS, REQUESTS; "
    "REQUESTS.labels('GET', '/', '200').inc(); print(MULTIPROCESS)"
)


def run_app(cwd: Path, **env: str) -> subprocess.CompletedProcess[str]:
    inherited = {key: value for key, value in os.environ.items() if key != "HOMEROOM_METRICS_DIR_OWNER"}
    environment = {**inherited, "PYTHONPATH": str(PROJECT_ROOT), "HOMEROOM_ENV_FILE": "", **env}
    return subprocess.run(
        [sys.executable, "-c", SHOW_MODE],
        cwd=cwd,
        env=environment,
        capture_output=True,
        text=True,
        timeout=60,
    )


@pytest.mark.parametrize("named", ["", "metrics"])
def test_an_app_outside_gunicorn_writes_no_metrics_files(tmp_path: Path, named: str) -> None:
    folder = tmp_path / named
    folder.mkdir(exist_ok=True)
    done = run_app(tmp_path, PROMETHEUS_MULTIPROC_DIR=named and str(folder))
    assert done.returncode == 0, done.stderr[-2000:]
    assert done.stdout.split()[-1] == "False"  # the process's own registry serves /metrics
    assert sorted(path.name for path in tmp_path.rglob("*")) == ([] if not named else ["metrics"])


def test_under_gunicorn_config_the_folder_is_used(tmp_path: Path) -> None:
    """The marker gunicorn_config.py sets keeps the variable: workers share their values through it."""
    done = run_app(
        tmp_path, PROMETHEUS_MULTIPROC_DIR=str(tmp_path), HOMEROOM_METRICS_DIR_OWNER=str(os.getpid())
    )
    assert done.returncode == 0, done.stderr[-2000:]
    assert done.stdout.split()[-1] == "True"
    assert [path.name for path in tmp_path.glob("counter_*.db")]
