"""A passing run prints only progress and the summary: the SMTP stand-in (aiosmtpd) logs its
sessions at INFO on `mail.log`, from its own thread, which the test configuration silences."""

from __future__ import annotations

import smtplib
from collections.abc import Callable
from typing import Any

from tests.mail.smtp_server import SMTPServer


def test_the_smtp_stand_in_says_nothing_about_its_sessions(
    make_app: Any, smtp: SMTPServer, logs: Callable[[], list[dict[str, Any]]]
) -> None:
    make_app()  # the app's logging, as in every mail test
    client = smtplib.SMTP("127.0.0.1", smtp.port, timeout=10)
    client.ehlo()
    client.sock.close()  # dropped without QUIT, as a failed test's client would be
    smtp.stop()  # the session ends (and is logged, were INFO let through) before we look
    smtp.start()
    assert [line for line in logs() if str(line.get("logger", "")).startswith("mail.")] == []
