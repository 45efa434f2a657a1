"""The hardening tests use the school-records world (a school with every role, and another school)."""

from tests.school import world  # noqa: F401  (a fixture)
