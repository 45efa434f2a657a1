"""The evaluation set, offline, on the demo school: every case must pass."""

from __future__ import annotations

from collections import Counter

from flask import Flask

from backend.demo.assistant_eval import CASES, run
from backend.demo.seed import seed


def test_the_evaluation_set_covers_every_role_and_domain() -> None:
    assert len(CASES) >= 60
    roles = Counter(case.who.rstrip("0123456789") for case in CASES)
    assert set(roles) == {"parent", "teacher", "admin"}
    for role in roles:
        domains = {case.domain for case in CASES if case.who.startswith(role)}
        assert {"attendance", "grades", "fees", "health", "classes", "enrollment", "guardians"} <= domains
        assert {"policies", "account", "help"} <= domains
    assert all(case.must for case in CASES)


def test_every_case_passes_offline_on_the_demo_school(app: Flask) -> None:
    with app.app_context():
        password = seed(lambda _n: None).password
    assert password is not None
    results = run(app, password)
    failures = [(r.question, r.domain, r.missing, r.leaked) for r in results if not r.passed]
    assert not failures, failures
    assert {r.mode for r in results} == {"offline"}
