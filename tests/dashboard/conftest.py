"""The dashboard tests use the small school of tests/school.py."""

from tests.school import alice, world  # noqa: F401  (the fixtures, reused)
