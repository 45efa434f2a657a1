"""The doctor's drifted databases serve the ops API tests too."""

from tests.doctor.conftest import clean, drifted  # noqa: F401  (fixtures)
