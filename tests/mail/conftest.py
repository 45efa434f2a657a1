"""Apps that send mail to a real SMTP server on 127.0.0.1 (aiosmtpd), and a sender to drain the
outbox on demand. The small school of tests/school.py is reused on such an app."""

from __future__ import annotations

import re
from collections.abc import Iterator
from typing import Any

import pytest
from flask import Flask

from backend.auth.recovery import process_reset_requests
from backend.config import SETTINGS_EXTENSION
from backend.mail.sender import Sender, Totals
from tests.conftest import AppFactory
from tests.mail.smtp_server import SMTPServer
from tests.school import World, world  # noqa: F401  (the fixture, reused)

BASE_URL = "https://app.homeroom.test"


def mail_settings(server: SMTPServer, **extra: Any) -> dict[str, Any]:
    return {
        "SMTP_URL": server.url,
        "MAIL_FROM": "Homeroom <no-reply@homeroom.test>",
        "APP_BASE_URL": BASE_URL,
        "OUTBOX_BACKOFF_SECONDS": 0.05,
        "OUTBOX_BACKOFF_MAX_SECONDS": 0.2,
        "OUTBOX_POLL_SECONDS": 0.05,
        "SMTP_TIMEOUT": 5,
        **extra,
    }


@pytest.fixture
def smtp() -> Iterator[SMTPServer]:
    server = SMTPServer()
    server.start()
    yield server
    server.stop()


@pytest.fixture
def app(make_app: AppFactory, smtp: SMTPServer) -> Flask:
    return make_app(**mail_settings(smtp))


def deliver(app: Flask, *, max_seconds: float = 30, until_idle: bool = True) -> Totals:
    """Run a sender until nothing is left to do (or for `max_seconds`, with until_idle=False)."""
    sender = Sender(app, app.extensions[SETTINGS_EXTENSION], before_round=process_reset_requests)
    return sender.run(until_idle=until_idle, max_seconds=max_seconds)


def link_token(text: str, path: str) -> str:
    """The token of the `BASE_URL/<path>?token=...` link in an email's text."""
    match = re.search(rf"{re.escape(BASE_URL)}/{path}\?token=([A-Za-z0-9_\-.]+)", text)
    assert match, text
    return match[1]
