"""The health_records tests use the small school of tests/school.py."""

from tests.school import world  # noqa: F401  (the fixture, reused)
