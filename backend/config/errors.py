"""How an invalid configuration is reported: every problem collected into one `ConfigError`, one
line per variable (never echoing the offending value, so a secret pasted into the wrong variable
is not printed back), and at a program's entry point turned into those lines on stderr and exit
status 78 (EX_CONFIG)."""

from __future__ import annotations

import sys
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

from pydantic import ValidationError


class ConfigError(Exception):
    """The configuration is invalid; `problems` holds one human-readable line per problem."""

    def __init__(self, problems: list[str]) -> None:
        self.problems = problems
        noun = "problem" if len(problems) == 1 else "problems"
        lines = [f"Configuration is invalid ({len(problems)} {noun}):"]
        lines += [f"  {p}" for p in problems]
        super().__init__("\n".join(lines))


def config_error(error: ValidationError) -> ConfigError:
    """pydantic's validation errors as a `ConfigError`: `VARIABLE: message`, without the input."""
    problems = []
    for item in error.errors(include_input=False, include_url=False):
        name = str(item["loc"][0]).upper() if item["loc"] else "SETTINGS"
        message = item["msg"].removeprefix("Value error, ")
        problems.append(f"{name}: {message}")
    return ConfigError(problems)


@contextmanager
def exit_on_config_error(stream: Any = None) -> Iterator[None]:
    """Turn a `ConfigError` into its problem lines on stderr and exit status 78 (EX_CONFIG)."""
    try:
        yield
    except ConfigError as error:
        (stream or sys.stderr).write(f"{error}\n")
        raise SystemExit(78) from None
