"""Helpers for the `flask ...` commands of every feature: errors as one line, passwords read safely."""

from __future__ import annotations

import sys

import click
from pydantic import ValidationError

from backend.core.errors import ApiError


def command_error(error: ApiError | ValidationError) -> click.ClickException:
    """An API or validation error as a command-line error: one line, every problem named."""
    if isinstance(error, ValidationError):
        lines = [f"{'.'.join(map(str, e['loc']))}: {e['msg']}" for e in error.errors(include_input=False)]
        return click.ClickException("; ".join(lines))
    details = [f"{e['field']}: {e['message']}" for e in error.extra.get("errors", [])]
    return click.ClickException("; ".join(details) or str(error))


def read_password(from_stdin: bool) -> str:
    """The first line of stdin, or a hidden prompt typed twice; never a command-line argument."""
    if from_stdin:
        return sys.stdin.readline().rstrip("\r\n")
    return str(click.prompt("Password", hide_input=True, confirmation_prompt=True))
