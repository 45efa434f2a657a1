"""What the doctor raises: `DoctorError` when it cannot do what was asked (the message says why,
and the CLI exits 2, the ops API answers 409), and `DoctorBusy` when another scan or fix holds the
lock."""

from __future__ import annotations


class DoctorError(Exception):
    """The doctor could not do what was asked; the message says why."""


class DoctorBusy(DoctorError):
    """Another scan or fix holds the lock."""
