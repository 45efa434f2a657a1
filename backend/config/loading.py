"""Where settings come from: `load_settings` reads the environment and a `.env` file (the app's
and the CLI's way), `settings_from` takes only the values it is given (tests and tools), and
`current_settings` returns the ones the running app was built with. Either builder raises one
`ConfigError` listing every problem."""

from __future__ import annotations

import os
from collections.abc import Mapping
from typing import Any

from flask import current_app
from pydantic import ValidationError
from pydantic_settings import BaseSettings, PydanticBaseSettingsSource

from backend.config.errors import config_error
from backend.config.paths import PROJECT_ROOT
from backend.config.settings import Settings

ENV_FILE_VARIABLE = "HOMEROOM_ENV_FILE"
SETTINGS_EXTENSION = "homeroom.settings"


def current_settings() -> Settings:
    """The settings of the app handling the current request or CLI command."""
    settings: Settings = current_app.extensions[SETTINGS_EXTENSION]
    return settings


def load_settings(overrides: Mapping[str, Any] | None = None) -> Settings:
    """Read the environment and the `.env` file, apply `overrides` (keys are variable names), validate.

    HOMEROOM_ENV_FILE names another `.env` file; set to an empty string, no file is read.
    """
    values = {key.lower(): value for key, value in (overrides or {}).items()}
    env_file = os.environ.get(ENV_FILE_VARIABLE, str(PROJECT_ROOT / ".env")) or None
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
