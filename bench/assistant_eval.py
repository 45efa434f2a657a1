"""The assistant's evaluation set against a language model: the share of good answers.

    ASSISTANT_API_URL=http://127.0.0.1:8080/v1 ASSISTANT_MODEL=... [ASSISTANT_API_KEY=...] \\
        .venv/bin/python bench/assistant_eval.py [--offline] [--report FILE] [--allow-remote]

Builds the demo school in a scratch SQLite database, asks every case of the evaluation set
(`backend/assistant/evaluation`) through the HTTP API as its user, and prints the score report:
the share of answers with every required fact and none of the forbidden ones, by role and by
domain, the confident wrong answers, the leaks, and every failure. `--offline` runs without a
model (`docs/assistant-evaluation.md` is that report: `--offline --report
docs/assistant-evaluation.md`). The model must be on 127.0.0.1 unless `--allow-remote` says
otherwise: a run sends the demo's (invented) data to it.
"""

from __future__ import annotations

import argparse
import os
import sys
import tempfile
from collections import Counter
from pathlib import Path
from urllib.parse import urlsplit

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from flask_migrate import upgrade

from backend import create_app
from backend.assistant import EvaluationResult, evaluation_cases, evaluation_report
from backend.config import settings_from
from backend.core.db import dispose_pools
from backend.demo.assistant_eval import EVALUATION_RATE_LIMIT, run
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


def _report(results: list[EvaluationResult], model: bool) -> str:
    modes = Counter(r.mode for r in results)
    phrased = ", ".join(f"{mode} {count}" for mode, count in sorted(modes.items()))
    title = "Assistant evaluation: " + ("with a language model" if model else "offline (no model)")
    text = evaluation_report(results, title)
    how = (
        "\n\nThe demo school is built afresh for the run (its dates around the day of the run), every "
        "case is asked over the HTTP API as its user, and the expected facts come from the demo's "
        "database (`backend/demo/assistant_eval.py`). Regenerate with `.venv/bin/python "
        "bench/assistant_eval.py --offline --report docs/assistant-evaluation.md`. The domain rows "
        "group a case by the first domain it accepts."
    )
    return text.replace("\n\n## By role", f"\n- Phrased by: {phrased}{how}\n\n## By role", 1)


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--offline", action="store_true", help="no model: the offline answers")
    parser.add_argument("--allow-remote", action="store_true", help="allow a model outside 127.0.0.1")
    parser.add_argument("--report", type=Path, help="also write the report (Markdown) to this file")
    args = parser.parse_args()
    model = _model_settings(args.offline, args.allow_remote)
    with tempfile.TemporaryDirectory(prefix="homeroom-eval-") as folder:
        config = {"APP_ENV": "testing", "DATABASE_URL": f"sqlite:///{folder}/eval.db", "LOG_LEVEL": "WARNING"}
        config["ASSISTANT_RATE_LIMIT"] = EVALUATION_RATE_LIMIT
        app = create_app(settings_from(**config, **FAST_HASHING, **model))
        with app.app_context(), platform_access("bench assistant evaluation"):
            upgrade()
            print("Building the demo school ...", flush=True)
            password = seed(lambda _n: None).password
        assert password is not None
        done = 0

        cases = evaluation_cases()

        def progress(step: int) -> None:
            nonlocal done
            done += step
            print(f"\r{done}/{len(cases)} questions asked", end="", flush=True)

        results = run(app, password, cases, progress=progress)
        dispose_pools(app)
    report = _report(results, model=bool(model))
    print("\n\n" + report)
    if args.report:
        args.report.write_text(report)


if __name__ == "__main__":
    main()
