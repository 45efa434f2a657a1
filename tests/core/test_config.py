"""Configuration: typed, validated once, every problem reported at once, secrets never echoed."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
from cryptography.fernet import Fernet

from backend.config import PROJECT_ROOT, ConfigError, Settings, load_settings, settings_from
from backend.config.loading import forget_flask_dotenv

GOOD_SECRET = "s3cr3t-" + "q" * 40
GOOD_JWT_SECRET = "jwt-s3cr3t-" + "z" * 40
FERNET_KEY = Fernet.generate_key().decode()
PRODUCTION = {
    "APP_ENV": "production",
    "SECRET_KEY": GOOD_SECRET,
    "JWT_SECRET_KEY": GOOD_JWT_SECRET,
    "ENCRYPTION_KEYS": FERNET_KEY,
    "DATABASE_URL": "postgresql://homeroom:pg-password-123@db.internal:5432/homeroom",
    "CORS_ORIGINS": "https://app.example.org",
}
# Variables a run of the app reads; cleared so that neither the caller's shell nor a .env leaks in.
APP_VARIABLES = (
    "APP_ENV",
    "SECRET_KEY",
    "JWT_SECRET_KEY",
    "DATABASE_URL",
    "CORS_ORIGINS",
    "LOG_FORMAT",
    "LOG_LEVEL",
    "ENCRYPTION_KEY",
    "ENCRYPTION_KEYS",
)


def problems_of(**values: str) -> list[str]:
    with pytest.raises(ConfigError) as caught:
        settings_from(**values)
    return caught.value.problems


def test_development_defaults_work_out_of_the_box() -> None:
    settings = settings_from()
    assert settings.app_env == "development"
    assert settings.database_url == f"sqlite:///{PROJECT_ROOT / 'instance' / 'homeroom.db'}"
    assert settings.log_format == "console"
    assert settings.secret_key is not None and len(settings.secret_key.get_secret_value()) >= 32
    assert settings.max_content_length == 1024 * 1024
    assert (
        settings.db_pool_size,
        settings.db_max_overflow,
        settings.db_pool_timeout,
        settings.db_pool_recycle,
    ) == (10, 20, 30.0, 3600)


def test_generated_development_secret_is_random() -> None:
    assert settings_from().secret_key != settings_from().secret_key


def test_production_defaults_to_json_logs() -> None:
    assert settings_from(**PRODUCTION).log_format == "json"


def test_production_requires_every_security_setting_and_reports_all_at_once() -> None:
    problems = problems_of(APP_ENV="production", MAX_CONTENT_LENGTH="lots", LOG_LEVEL="loud")
    assert problems == [
        "SECRET_KEY: must be set in production",
        "JWT_SECRET_KEY: must be set in production",
        "DATABASE_URL: must be set in production",
        "ENCRYPTION_KEYS: must be set in production (or ENCRYPTION_KEY): health records are encrypted",
        "CORS_ORIGINS: must list the web app's origins in production",
        "MAX_CONTENT_LENGTH: Input should be a valid integer, unable to parse string as an integer",
        "LOG_LEVEL: Input should be 'DEBUG', 'INFO', 'WARNING', 'ERROR' or 'CRITICAL'",
    ]


def test_short_secret_is_refused_everywhere_and_not_echoed() -> None:
    for env in ("development", "production"):
        with pytest.raises(ConfigError) as caught:
            settings_from(**{**PRODUCTION, "APP_ENV": env, "SECRET_KEY": "short-but-secret"})
        assert caught.value.problems == ["SECRET_KEY: must be at least 32 characters long"]
        assert "short-but-secret" not in str(caught.value)


def test_placeholder_secret_is_refused_in_production() -> None:
    placeholder = "change-me-change-me-change-me-change-me"
    problems = problems_of(**{**PRODUCTION, "SECRET_KEY": placeholder})
    assert len(problems) == 1 and problems[0].startswith("SECRET_KEY: is a placeholder")
    assert settings_from(SECRET_KEY=placeholder).app_env == "development"


@pytest.mark.parametrize(
    ("origins", "message"),
    [
        ("*", "'*' is not allowed"),
        ("https://app.example.org,*", "'*' is not allowed"),
        ("https://app.example.org/path", "not scheme://host[:port]"),
        ("app.example.org", "not scheme://host[:port]"),
        ("ftp://files.example.org", "not scheme://host[:port]"),
    ],
)
def test_cors_origins_must_be_exact(origins: str, message: str) -> None:
    problems = problems_of(**{**PRODUCTION, "CORS_ORIGINS": origins})
    assert len(problems) == 1 and problems[0].startswith("CORS_ORIGINS:") and message in problems[0]


def test_cors_origins_are_split_and_trimmed() -> None:
    settings = settings_from(CORS_ORIGINS=" https://a.example.org/ , http://localhost:5173,")
    assert settings.cors_origins == ("https://a.example.org", "http://localhost:5173")


@pytest.mark.parametrize(
    ("url", "expected"),
    [
        ("postgres://u:p@h/db", "postgresql+psycopg://u:p@h/db"),
        ("postgresql://u:p@h:6543/db", "postgresql+psycopg://u:p@h:6543/db"),
        ("postgresql+psycopg://u@h/db", "postgresql+psycopg://u@h/db"),
        ("sqlite:////tmp/x.db", "sqlite:////tmp/x.db"),
        ("sqlite:///data/x.db", f"sqlite:///{PROJECT_ROOT / 'data' / 'x.db'}"),
    ],
)
def test_database_urls_are_normalised(url: str, expected: str) -> None:
    assert settings_from(DATABASE_URL=url).database_url == expected


@pytest.mark.parametrize("url", ["mysql://u:p@h/db", "not a url at all"])
def test_unsupported_database_url_is_refused_without_echo(url: str) -> None:
    problems = problems_of(DATABASE_URL=url)
    assert len(problems) == 1 and problems[0].startswith("DATABASE_URL:")
    assert "u:p" not in problems[0]


def test_masked_hides_secrets() -> None:
    shown = settings_from(**PRODUCTION, REDIS_URL="redis://:redis-pass-123@cache.internal:6379/0").masked()
    assert shown["SECRET_KEY"] == "********"
    assert shown["JWT_SECRET_KEY"] == "********"
    assert shown["REDIS_URL"] == "redis://:***@cache.internal:6379/0"
    assert "redis-pass-123" not in str(shown) and GOOD_JWT_SECRET not in str(shown)
    assert shown["DATABASE_URL"] == "postgresql+psycopg://homeroom:***@db.internal:5432/homeroom"
    assert GOOD_SECRET not in str(shown) and "pg-password-123" not in str(shown)


def test_environment_and_dotenv_are_read(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    for name in APP_VARIABLES:
        monkeypatch.delenv(name, raising=False)
    env_file = tmp_path / ".env"
    env_file.write_text("LOG_LEVEL=warning\nMAX_CONTENT_LENGTH=2048\n")
    monkeypatch.setenv("MAX_CONTENT_LENGTH", "4096")  # the environment wins over .env
    settings = Settings(_env_file=env_file)  # type: ignore[call-arg]
    assert settings.log_level == "WARNING"
    assert settings.max_content_length == 4096


def test_env_file_can_be_named_and_empty_values_count_as_unset(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    for name in APP_VARIABLES:
        monkeypatch.delenv(name, raising=False)
    env_file = tmp_path / "homeroom.env"
    env_file.write_text("APP_ENV=production\nLOG_LEVEL=\n")
    monkeypatch.setenv("HOMEROOM_ENV_FILE", str(env_file))
    with pytest.raises(ConfigError) as caught:
        load_settings()
    assert [p.split(":")[0] for p in caught.value.problems] == [
        "SECRET_KEY",
        "JWT_SECRET_KEY",
        "DATABASE_URL",
        "ENCRYPTION_KEYS",
        "CORS_ORIGINS",
    ]
    monkeypatch.setenv("HOMEROOM_ENV_FILE", "")
    assert load_settings().app_env == "development"


def test_load_settings_applies_overrides_over_the_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("LOG_LEVEL", "ERROR")
    assert load_settings({"LOG_LEVEL": "DEBUG"}).log_level == "DEBUG"


def _run(args: list[str], **env: str) -> subprocess.CompletedProcess[str]:
    clean = {k: v for k, v in os.environ.items() if k not in APP_VARIABLES}
    # No .env: neither ours nor the one the Flask CLI would load from the working directory.
    clean.update(HOMEROOM_ENV_FILE="", FLASK_SKIP_DOTENV="1", **env)
    return subprocess.run(args, cwd=PROJECT_ROOT, env=clean, capture_output=True, text=True, timeout=60)


def test_invalid_configuration_exits_non_zero_with_one_line_per_problem() -> None:
    result = _run([sys.executable, "-c", "import wsgi"], APP_ENV="production", SECRET_KEY="tiny-secret-value")
    assert result.returncode == 78
    assert "Traceback" not in result.stderr
    assert result.stderr.splitlines() == [
        "Configuration is invalid (5 problems):",
        "  SECRET_KEY: must be at least 32 characters long",
        "  JWT_SECRET_KEY: must be set in production",
        "  DATABASE_URL: must be set in production",
        "  ENCRYPTION_KEYS: must be set in production (or ENCRYPTION_KEY): health records are encrypted",
        "  CORS_ORIGINS: must list the web app's origins in production",
    ]
    assert "tiny-secret-value" not in result.stderr + result.stdout


def test_config_check_command_prints_masked_configuration(tmp_path: Path) -> None:
    flask = str(Path(sys.executable).with_name("flask"))
    result = _run(
        [flask, "--app", "wsgi", "config", "check"],
        **{
            **PRODUCTION,
            "DATABASE_URL": f"sqlite:///{tmp_path / 'x.db'}",
        },
    )
    assert result.returncode == 0, result.stderr
    assert "APP_ENV=production" in result.stdout
    assert "SECRET_KEY=********" in result.stdout
    assert "JWT_SECRET_KEY=********" in result.stdout
    assert "ENCRYPTION_KEYS=******** (1 keys)" in result.stdout and FERNET_KEY not in result.stdout
    assert GOOD_JWT_SECRET not in result.stdout + result.stderr
    assert "CORS_ORIGINS=https://app.example.org" in result.stdout
    assert GOOD_SECRET not in result.stdout + result.stderr
    assert "Configuration is valid." in result.stderr
    assert not (tmp_path / "x.db").exists()  # checking opens no connection


def test_config_check_command_fails_on_invalid_configuration() -> None:
    flask = str(Path(sys.executable).with_name("flask"))
    result = _run(
        [flask, "--app", "wsgi", "config", "check"],
        APP_ENV="production",
        CORS_ORIGINS="*",
        SECRET_KEY=GOOD_SECRET,
        JWT_SECRET_KEY=GOOD_JWT_SECRET,
        ENCRYPTION_KEYS=FERNET_KEY,
        DATABASE_URL="sqlite:////tmp/x.db",
    )
    assert result.returncode == 78
    assert result.stderr.splitlines()[1:] == [
        "  CORS_ORIGINS: '*' is not allowed; list the exact origins (https://app.example.org)"
    ]


def test_development_logs_are_readable_even_with_the_shipped_env_file(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    """The .env written from .env.example does not pin the log format: a developer who sets
    APP_ENV=development gets console logs, production gets JSON, and an explicit choice wins."""
    for name in APP_VARIABLES:
        monkeypatch.delenv(name, raising=False)
    # What the start scripts do on a first run, in a copy: .env from .env.example with fresh secrets.
    (tmp_path / "scripts").mkdir()
    shutil.copy(PROJECT_ROOT / "scripts" / "make_env.py", tmp_path / "scripts")
    shutil.copy(PROJECT_ROOT / ".env.example", tmp_path)
    subprocess.run([sys.executable, str(tmp_path / "scripts" / "make_env.py")], check=True)
    env_file = tmp_path / ".env"
    monkeypatch.setenv("HOMEROOM_ENV_FILE", str(env_file))
    monkeypatch.setenv("APP_ENV", "development")
    assert load_settings().log_format == "console"
    monkeypatch.setenv("LOG_FORMAT", "json")
    assert load_settings().log_format == "json"
    monkeypatch.delenv("LOG_FORMAT")
    assert load_settings({"APP_ENV": "testing"}).log_format == "json"


def test_the_flask_cli_copy_of_dotenv_is_forgotten(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    """`flask` copies .env into the environment before the app starts; that copy is undone, so the
    CLI reads HOMEROOM_ENV_FILE like the server. What the caller set, and FLASK_*, stay."""
    (tmp_path / ".env").write_text(
        "HOMEROOM_T_COPIED=from-file\nHOMEROOM_T_CALLER=from-file\nFLASK_APP=wsgi\n"
    )
    monkeypatch.chdir(tmp_path)
    monkeypatch.delenv("FLASK_SKIP_DOTENV", raising=False)
    monkeypatch.setenv("FLASK_RUN_FROM_CLI", "true")
    monkeypatch.setenv("HOMEROOM_T_COPIED", "from-file")  # what Flask's load_dotenv did
    monkeypatch.setenv("HOMEROOM_T_CALLER", "from-caller")
    monkeypatch.setenv("FLASK_APP", "wsgi")
    monkeypatch.setenv("FLASK_SKIP_DOTENV", "1")  # the CLI was told not to read .env: nothing to undo
    forget_flask_dotenv()
    assert os.environ["HOMEROOM_T_COPIED"] == "from-file"
    monkeypatch.delenv("FLASK_SKIP_DOTENV")
    forget_flask_dotenv()
    assert "HOMEROOM_T_COPIED" not in os.environ
    assert os.environ["HOMEROOM_T_CALLER"] == "from-caller"
    assert os.environ["FLASK_APP"] == "wsgi"


def test_a_relative_env_file_is_found_from_any_working_folder(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    """HOMEROOM_ENV_FILE=relative/path means the same file wherever a command starts (the project
    root, as start_production.sh reads it)."""
    for name in APP_VARIABLES:
        monkeypatch.delenv(name, raising=False)
    folder = PROJECT_ROOT / "instance"
    folder.mkdir(exist_ok=True)
    env_file = folder / f"test-relative-{os.getpid()}.env"
    env_file.write_text("LOG_LEVEL=warning\n")
    try:
        monkeypatch.chdir(tmp_path)
        monkeypatch.setenv("HOMEROOM_ENV_FILE", str(env_file.relative_to(PROJECT_ROOT)))
        assert load_settings().log_level == "WARNING"
    finally:
        env_file.unlink()
