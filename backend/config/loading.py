"""Where settings come from: `load_settings` reads the environment and a `.env` file (the app's
and the CLI's way), `settings_from` takes only the values it is given (tests and tools), and
`current_settings` returns the ones the running app was built with. Either builder raises one
`ConfigError` listing every problem.

One rule for every process (Gunicorn, waitress, each `flask` command): the environment, then the
file HOMEROOM_ENV_FILE names (default `.env` at the project root; none when empty). Two things
would bend it, and `settle_environment` (run once, when this package is first imported, before
anything imports prometheus_client) undoes them:
- the `flask` command copies `.flaskenv` and `.env` from the working folder into the environment
  before Homeroom starts (python-dotenv), which would make `.env` win over HOMEROOM_ENV_FILE;
- prometheus_client writes a file per process into PROMETHEUS_MULTIPROC_DIR whenever the variable
  exists, even empty (then into the working folder). Only a Gunicorn server started with
  gunicorn_config.py shares metrics through files; every other process keeps them in memory.
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import dotenv
from flask import current_app
from flask.helpers import get_load_dotenv
from pydantic import ValidationError
from pydantic_settings import BaseSettings, PydanticBaseSettingsSource

from backend.config.errors import config_error
from backend.config.paths import anchored
from backend.config.settings import Settings

ENV_FILE_VARIABLE = "HOMEROOM_ENV_FILE"
SETTINGS_EXTENSION = "homeroom.settings"
# Set by gunicorn_config.py (the master's pid) once it has prepared PROMETHEUS_MULTIPROC_DIR.
METRICS_DIR_OWNER_VARIABLE = "HOMEROOM_METRICS_DIR_OWNER"
_METRICS_DIR_VARIABLES = ("PROMETHEUS_MULTIPROC_DIR", "prometheus_multiproc_dir")
_FLASK_DOTENV_FILES = (".flaskenv", ".env")


def settle_environment() -> None:
    """Apply the module docstring's rule to this process's environment (idempotent)."""
    forget_flask_dotenv()
    if not os.environ.get(METRICS_DIR_OWNER_VARIABLE):
        for name in _METRICS_DIR_VARIABLES:
            os.environ.pop(name, None)


def forget_flask_dotenv() -> None:
    """In a `flask` command (unless FLASK_SKIP_DOTENV), remove what the Flask CLI copied from
    `.flaskenv` and `.env`: each name the file sets, holding the file's value, that the process was
    not started with. FLASK_* variables (the CLI's own settings) stay."""
    if os.environ.get("FLASK_RUN_FROM_CLI") != "true" or not get_load_dotenv():
        return
    started_with = _names_at_start()
    for file_name in _FLASK_DOTENV_FILES:
        found = dotenv.find_dotenv(file_name, usecwd=True)
        if not found:
            continue
        for name, value in dotenv.dotenv_values(found, encoding="utf-8").items():
            if name.startswith("FLASK_") or name in started_with:
                continue
            if value is not None and os.environ.get(name) == value:
                del os.environ[name]


def _names_at_start() -> set[str]:
    """The variables this process was started with (Linux keeps them in /proc); empty elsewhere,
    where a value copied from `.env` cannot be told from the same value set by the caller."""
    try:
        raw = Path("/proc/self/environ").read_bytes()
    except OSError:
        return set()
    return {entry.split(b"=", 1)[0].decode(errors="replace") for entry in raw.split(b"\0") if entry}


def current_settings() -> Settings:
    """The settings of the app handling the current request or CLI command."""
    settings: Settings = current_app.extensions[SETTINGS_EXTENSION]
    return settings


def load_settings(overrides: Mapping[str, Any] | None = None) -> Settings:
    """Read the environment and the `.env` file, apply `overrides` (keys are variable names), validate.

    HOMEROOM_ENV_FILE names another `.env` file (a relative path is under the project root, as
    start_production.sh reads it); set to an empty string, no file is read.
    """
    values = {key.lower(): value for key, value in (overrides or {}).items()}
    named = os.environ.get(ENV_FILE_VARIABLE, ".env")
    env_file = anchored(Path(named)) if named else None
    try:
        return Settings(_env_file=env_file, **values)
    except ValidationError as error:
        raise config_error(error) from None


class _ExplicitSettings(Settings):
    """Settings whose only source is the arguments: no environment, no `.env`."""

    @classmethod
    def settings_customise_sources(
        cls,
        settings_cls: type[BaseSettings],
        init_settings: PydanticBaseSettingsSource,
        env_settings: PydanticBaseSettingsSource,
        dotenv_settings: PydanticBaseSettingsSource,
        file_secret_settings: PydanticBaseSettingsSource,
    ) -> tuple[PydanticBaseSettingsSource, ...]:
        return (init_settings,)


def settings_from(**values: Any) -> Settings:
    """Settings built only from `values` (keys are variable names): for tests and tools."""
    try:
        return _ExplicitSettings(**{k.lower(): v for k, v in values.items()})
    except ValidationError as error:
        raise config_error(error) from None


settle_environment()
