"""A separate process that asks for a school's Xero access token, as a job runner on another
instance would: `python -m tests.xero.refresher <database url> <settings json> <school id> [crash]`.
It prints the access token it got; with `crash` it dies (os._exit) right after Xero's answer,
before the new pair is committed."""

from __future__ import annotations

import json
import os
import sys
import uuid

from backend import create_app
from backend.config import settings_from
from backend.tenancy import platform_access
from tests.conftest import base_config


def main() -> None:
    database_url, settings, school_id = sys.argv[1], json.loads(sys.argv[2]), uuid.UUID(sys.argv[3])
    app = create_app(settings_from(**base_config(database_url, LOG_LEVEL="ERROR", **settings)))
    from backend.xero import tokens

    if len(sys.argv) > 4 and sys.argv[4] == "crash":
        tokens._store = lambda *_: os._exit(3)  # type: ignore[assignment]  # the crash under test
    with app.app_context(), platform_access("refresher test"):
        connection = tokens.usable(app.extensions["homeroom.settings"], school_id)
        sys.stdout.write(f"{connection.access_token}\n")


if __name__ == "__main__":
    main()
