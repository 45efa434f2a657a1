"""The audit tests use the school-records world."""

from tests.records.conftest import world  # noqa: F401  (re-exported fixture)
