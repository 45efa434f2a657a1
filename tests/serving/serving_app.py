"""The real application plus two test-only routes, for the tests that run a real Gunicorn."""

from __future__ import annotations

import os
import time
from pathlib import Path

from flask import Blueprint, request

from backend import create_app
from backend.config import exit_on_config_error
from backend.core.markers import public

MAX_SLEEP_SECONDS = 10.0
RUNS_FILE_VARIABLE = "SERVING_RUNS_FILE"
probe = Blueprint("ops_probe", __name__, url_prefix="/api/_test")


@probe.get("/pid")
@public
def pid() -> dict[str, int]:
    return {"pid": os.getpid()}


@probe.get("/sleep")
@public
def sleep() -> dict[str, float]:
    """Sleep; with SERVING_RUNS_FILE set, first append the `mark` argument to it: which requests
    really ran (the admission tests check that shed ones never did)."""
    runs, mark = os.environ.get(RUNS_FILE_VARIABLE), request.args.get("mark")
    if runs and mark:
        with Path(runs).open("a") as file:
            file.write(mark + "\n")
    seconds = min(float(request.args.get("seconds", "1")), MAX_SLEEP_SECONDS)
    time.sleep(seconds)
    return {"slept": seconds, "pid": os.getpid()}


with exit_on_config_error():
    application = create_app()
application.register_blueprint(probe)
