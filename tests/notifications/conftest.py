"""The notification tests use the mail tests' app: a real SMTP server on 127.0.0.1 (aiosmtpd)."""

from __future__ import annotations

from tests.mail.conftest import app, smtp  # noqa: F401  (the fixtures, reused)
from tests.school import world  # noqa: F401  (the fixture, reused)
