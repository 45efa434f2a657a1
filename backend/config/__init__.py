"""Typed settings, read once from the environment and an optional `.env`, validated fail-fast:
every problem is collected into one `ConfigError`, whose messages never echo the offending value
(a secret pasted into the wrong variable is not printed back). This is the package's public face;
import from `backend.config`, not from its modules (paths: the project root, relative paths
anchored there, database URLs; fields: the variables; settings: their rules and masked display;
loading: the environment and `.env`; errors: `ConfigError` and exit status 78)."""

from __future__ import annotations

from backend.config.errors import ConfigError, exit_on_config_error
from backend.config.fields import Environment
from backend.config.loading import (
    ENV_FILE_VARIABLE,
    SETTINGS_EXTENSION,
    current_settings,
    load_settings,
    settings_from,
)
from backend.config.paths import PROJECT_ROOT, normalise_database_url, sqlite_file
from backend.config.settings import DEFAULT_SQLITE_URL, PLACEHOLDER_MARKERS, SECRET_FIELDS, Settings

__all__ = [
    "DEFAULT_SQLITE_URL",
    "ENV_FILE_VARIABLE",
    "PLACEHOLDER_MARKERS",
    "PROJECT_ROOT",
    "SECRET_FIELDS",
    "SETTINGS_EXTENSION",
    "ConfigError",
    "Environment",
    "Settings",
    "current_settings",
    "exit_on_config_error",
    "load_settings",
    "normalise_database_url",
    "settings_from",
    "sqlite_file",
]
