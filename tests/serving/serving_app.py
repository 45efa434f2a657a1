"""The real application plus two test-only routes, for the tests that run a real Gunicorn."""

from __future__ import annotations

import os
import time

from flask import Blueprint, request

from backend import create_app
from backend.config import exit_on_config_error
from backend.core.markers import public

MAX_SLEEP_SECONDS = 10.0
probe = Blueprint("ops_probe", __name__, url_prefix="/api/_test")


@probe.get("/pid")
@public
def pid() -> dict[str, int]:
    return {"pid": os.getpid()}


@probe.get("/sleep")
@public
def sleep() -> dict[str, float]:
    seconds = min(float(request.args.get("seconds", "1")), MAX_SLEEP_SECONDS)
    time.sleep(seconds)
    return {"slept": seconds, "pid": os.getpid()}


with exit_on_config_error():
    application = create_app()
application.register_blueprint(probe)
