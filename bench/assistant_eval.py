"""The assistant's evaluation set against a language model: the share of good answers.

    ASSISTANT_API_URL=http://127.0.0.1:8080/v1 ASSISTANT_MODEL=... [ASSISTANT_API_KEY=...] \\
        .venv/bin/python bench/assistant_eval.py [--offline] [--allow-remote] [--show-failures]

Builds the demo school in a scratch SQLite database, asks every case of
`backend/demo/assistant_eval.py` through the HTTP API as its user, and prints the share of
answers that contain every required fact and none of the forbidden ones, by role and by domain,
and how many were phrased by the model (the rest fell back to the offline answer). `--offline`
runs without a model (the test suite's check). The model must be on 127.0.0.1 unless
`--allow-remote` says otherwise: a run sends the demo's (invented) data to it.
"""

from __future__ import annotations

import argparse
import os
import sys
import tempfile
from collections import Counter, defaultdict
from pathlib import Path
from urllib.parse import urlsplit

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from flask_migrate import upgrade

from backend import create_app
from backend.config import settings_from
from backend.core.db import dispose_pools
from backend.demo.assistant_eval import CASES, Result, run
from backend.demo.seed import seed
from backend.tenancy import platform_access

FAST_HASHING = {
    "PASSWORD_HASH_TIME_COST": 1,
    "PASSWORD_HASH_MEMORY_KIB": 1024,
    "PASSWORD_HASH_PARALLELISM": 1,
}


def _model_settings(offline: bool, allow_remote: bool) -> dict[str, str]:
    if offline:
        return {}
    url = os.environ.get("ASSISTANT_API_URL", "")
    if not url or not os.environ.get("ASSISTANT_MODEL"):
        sys.exit(
            "Set ASSISTANT_API_URL and ASSISTANT_MODEL (and ASSISTANT_API_KEY if needed), or pass --offline."
        )
    if urlsplit(url).hostname not in ("127.0.0.1", "localhost", "::1") and not allow_remote:
        sys.exit("The model is not on 127.0.0.1; pass --allow-remote to send the demo data to it.")
    names = ("ASSISTANT_API_URL", "ASSISTANT_MODEL", "ASSISTANT_API_KEY", "ASSISTANT_TOTAL_TIMEOUT")
    return {name: os.environ[name] for name in names if os.environ.get(name)}


def _report(results: list[Result], show_failures: bool) -> None:
    passed = sum(r.passed for r in results)
    share = f"{passed}/{len(results)} answers good ({passed / len(results):.1%})"
    print(f"\n{share}: every required fact, none forbidden")
    modes = Counter(r.mode for r in results)
    print("phrased by: " + ", ".join(f"{mode} {count}" for mode, count in sorted(modes.items())))
    for label, key in (
        ("role", lambda r: r.case.who.rstrip("0123456789")),
        ("domain", lambda r: r.case.domain),
    ):
        groups: dict[str, list[Result]] = defaultdict(list)
        for result in results:
            groups[key(result)].append(result)
        print(f"\nby {label}:")
        for name, group in sorted(groups.items()):
            good = sum(r.passed for r in group)
            print(f"  {name:<12} {good:>3}/{len(group):<3} {good / len(group):.0%}")
    if show_failures:
        for result in results:
            if not result.passed:
                print(f"\n- {result.case.who}: {result.question} [{result.mode}, {result.domain}]")
                print(f"  missing: {result.missing}  forbidden present: {result.leaked}")


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--offline", action="store_true", help="no model: the offline answers")
    parser.add_argument("--allow-remote", action="store_true", help="allow a model outside 127.0.0.1")
    parser.add_argument("--show-failures", action="store_true")
    args = parser.parse_args()
    model = _model_settings(args.offline, args.allow_remote)
    with tempfile.TemporaryDirectory(prefix="homeroom-eval-") as folder:
        config = {"APP_ENV": "testing", "DATABASE_URL": f"sqlite:///{folder}/eval.db", "LOG_LEVEL": "WARNING"}
        app = create_app(settings_from(**config, **FAST_HASHING, **model))
        with app.app_context(), platform_access("bench assistant evaluation"):
            upgrade()
            print("Building the demo school ...", flush=True)
            password = seed(lambda _n: None).password
        assert password is not None
        done = 0

        def progress(step: int) -> None:
            nonlocal done
            done += step
            print(f"\r{done}/{len(CASES)} questions asked", end="", flush=True)

        results = run(app, password, progress=progress)
        dispose_pools(app)
    _report(results, args.show_failures)


if __name__ == "__main__":
    main()
