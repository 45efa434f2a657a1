"""The announcement tests use the small school of tests/school.py on an app that sends its mail to
a real SMTP server on 127.0.0.1 (tests/mail/conftest.py)."""

from tests.mail.conftest import app, smtp  # noqa: F401  (the fixtures, reused)
from tests.school import world  # noqa: F401
