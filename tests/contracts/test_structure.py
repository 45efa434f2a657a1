"""The shape of the code, checked: no function branches more than 15 ways (radon's cyclomatic
complexity, which counts boolean operators too), no module grows past 350 lines, and the served
API description stays what the structure change started from unless a change means to alter it.
The import layers are checked by import-linter (scripts/test.sh, pyproject.toml)."""

from __future__ import annotations

import json
import tomllib
from pathlib import Path

import pytest
from radon.complexity import cc_visit

from backend.config import PROJECT_ROOT
from tests.conftest import AppFactory

BACKEND = PROJECT_ROOT / "backend"
MODULES = sorted(BACKEND.rglob("*.py"))
MAX_COMPLEXITY = 15
MAX_LINES = 350
OPENAPI_SNAPSHOT = Path(__file__).with_name("openapi.json")
# Test folders that are not one package's: the code's rules, attacks across features, and the
# service run as a real process.
CROSS_CUTTING_TESTS = {"contracts", "hardening", "serving"}


def test_no_function_is_more_complex_than_the_limit() -> None:
    too_complex = [
        f"{path.relative_to(PROJECT_ROOT)}:{block.lineno} {block.fullname} = {block.complexity}"
        for path in MODULES
        for block in cc_visit(path.read_text())
        if block.complexity > MAX_COMPLEXITY
    ]
    assert too_complex == [], f"split these (limit {MAX_COMPLEXITY}): {too_complex}"


def test_no_module_is_longer_than_the_limit() -> None:
    too_long = {
        str(path.relative_to(PROJECT_ROOT)): lines
        for path in MODULES
        if (lines := len(path.read_text().splitlines())) > MAX_LINES
    }
    assert too_long == {}, f"split these modules (limit {MAX_LINES} lines): {too_long}"


def test_test_folders_mirror_the_packages() -> None:
    """tests/<name>/ holds the tests of backend/<name> (a package or a module), so a newcomer
    finds a package's tests where they would look."""
    packages = {
        path.stem for path in BACKEND.iterdir() if path.suffix == ".py" or (path / "__init__.py").exists()
    }
    folders = {path.name for path in (PROJECT_ROOT / "tests").iterdir() if (path / "__init__.py").exists()}
    assert folders - packages - CROSS_CUTTING_TESTS == set()


def test_every_package_is_reached_only_through_its_public_module() -> None:
    """Each package under backend/ (core's database helpers too) has an import-linter `protected`
    contract, so a new package cannot be left open by forgetting to write one."""
    contracts = tomllib.loads((PROJECT_ROOT / "pyproject.toml").read_text())["tool"]["importlinter"][
        "contracts"
    ]
    protected = {module for c in contracts if c["type"] == "protected" for module in c["protected_modules"]}
    packages = {path.name for path in BACKEND.iterdir() if (path / "__init__.py").exists()} - {"core"}
    assert {f"backend.{name}.*" for name in packages} | {"backend.core.db.*"} <= protected
    [floors] = [c for c in contracts if c["type"] == "layers"]
    assert floors["exhaustive"] is True  # a package missing from the floors fails lint-imports


@pytest.mark.parametrize("source", ["def f(a, b):\n    return a and b or not a\n"])
def test_the_complexity_gate_counts_boolean_operators(source: str) -> None:
    """radon, unlike ruff's C901, counts `and`/`or`: the gate measures what the limit means."""
    assert cc_visit(source)[0].complexity == 3


def test_the_api_description_is_unchanged(make_app: AppFactory) -> None:
    """Moving code between modules must not move the contract: the served OpenAPI document is,
    byte for byte, the snapshot (kept indented for readable diffs; served compact, keys sorted).
    A change that means to alter the API rewrites the snapshot in the same commit:
    `json.dumps(document, indent=2, sort_keys=True) + "\n"` (docs/architecture.md, section 6)."""
    served = make_app().test_client().get("/api/openapi.json")
    assert served.status_code == 200
    snapshot = json.loads(OPENAPI_SNAPSHOT.read_text())
    expected = json.dumps(snapshot, separators=(",", ":"), sort_keys=True) + "\n"
    assert served.get_data() == expected.encode()
    assert json.dumps(snapshot, indent=2, sort_keys=True) + "\n" == OPENAPI_SNAPSHOT.read_text()
