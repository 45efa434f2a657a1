"""start_production.ps1: PowerShell is not available here, so the script is parsed with the
tree-sitter PowerShell grammar, its serving step (waitress with the same arguments) is run for real on
this machine, and the script is checked for the same flags."""

from __future__ import annotations

import os
import re
import shlex
import subprocess
import sys
import time

import tree_sitter_powershell
from tree_sitter import Language, Parser

from backend.config import PROJECT_ROOT
from tests.conftest import free_port
from tests.serving.conftest import get

PS1 = (PROJECT_ROOT / "start_production.ps1").read_text()


def _syntax_errors(source: bytes) -> list[str]:
    """Where the PowerShell grammar finds a syntax error: ERROR nodes and missing tokens."""
    tree = Parser(Language(tree_sitter_powershell.language())).parse(source)
    errors, pending = [], [tree.root_node]
    while pending:
        node = pending.pop()
        if node.type == "ERROR" or node.is_missing:
            row, column = node.start_point
            errors.append(
                f"line {row + 1}, column {column + 1}: {source[node.start_byte : node.end_byte][:80]!r}"
            )
        pending.extend(node.children)
    return errors


def test_ps1_parses_without_syntax_errors() -> None:
    assert _syntax_errors(PS1.encode()) == []


def test_the_parse_check_finds_broken_powershell() -> None:
    """The check above can fail: a missing brace and a broken expression are reported."""
    assert _syntax_errors(b"function Stop-Now {\n  if ($x -eq ) { exit 1 }\n")
    assert _syntax_errors(PS1.replace("exit $LASTEXITCODE }", "exit $LASTEXITCODE", 1).encode())


def test_ps1_offers_the_same_flags_and_steps_as_the_shell_script() -> None:
    for flag in ("--check", "--migrate-only", "--no-install", "--help"):
        assert f"'{flag}'" in PS1
    for step in ("config check", "wait-for-db --timeout", "db upgrade", "-m waitress", ".env.example"):
        assert step in PS1
    assert "IsOutputRedirected" in PS1  # colour only on a terminal


def test_waitress_serves_the_app_as_the_ps1_starts_it(migrated_database: str) -> None:
    command = re.search(r"-m waitress (.*) wsgi:application", PS1)
    assert command, "waitress command line not found in start_production.ps1"
    port = free_port()
    arguments = command.group(1).replace("0.0.0.0:$port", f"127.0.0.1:{port}").replace("$threads", "4")
    env = {
        **os.environ,
        "HOMEROOM_ENV_FILE": "",
        "APP_ENV": "testing",
        "LOG_FORMAT": "json",
        "DATABASE_URL": migrated_database,
    }
    process = subprocess.Popen(
        [sys.executable, "-m", "waitress", *shlex.split(arguments), "wsgi:application"],
        cwd=PROJECT_ROOT,
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    try:
        deadline = time.monotonic() + 30
        status = 0
        while time.monotonic() < deadline and status != 200:
            try:
                status = get(port, "/ready", timeout=2)[0]
            except OSError:
                time.sleep(0.2)
        assert status == 200
        assert get(port, "/health") == (200, {"status": "ok"})
    finally:
        process.terminate()
        process.wait(timeout=10)
