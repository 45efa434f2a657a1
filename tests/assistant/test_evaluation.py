"""The evaluation set (`backend/assistant/evaluation`) on the demo school: offline it must pass at
least 95% with no confident wrong answer and no leak; with a chat-completions model (the stand-in
on 127.0.0.1, which repeats the facts it is given) the model only phrases what the rules found, so
the same set scores the same."""

from __future__ import annotations

import re
from collections import Counter
from typing import Any

from flask import Flask

from backend.assistant import EvaluationResult, evaluation_cases, evaluation_report
from backend.demo.assistant_eval import EVALUATION_RATE_LIMIT, run
from backend.demo.seed import seed
from tests.assistant.conftest import model_settings
from tests.assistant.model_server import API_KEY, ModelServer

STUDENT_DOMAINS = {"attendance", "grades", "fees", "health", "classes", "enrollment", "guardians"}


def _run(app: Flask) -> tuple[list[EvaluationResult], str]:
    with app.app_context():
        password = seed(lambda _n: None).password
    assert password is not None
    return run(app, password, evaluation_cases()), password


def _score(results: list[EvaluationResult]) -> tuple[float, list[str], list[str]]:
    share = sum(r.passed for r in results) / len(results)
    wrong = [
        f"{r.case.who}: {r.question} -> {r.domain}: {r.missing} {r.leaked}"
        for r in results
        if r.confident_wrong
    ]
    leaks = [f"{r.case.who}: {r.question} -> {r.leaked}" for r in results if r.leak]
    return share, wrong, leaks


def test_the_set_is_large_varied_and_checks_facts() -> None:
    cases = evaluation_cases()
    assert len(cases) >= 200
    assert len({c.question for c in cases}) >= 0.85 * len(cases)  # varied wording, not one template
    roles = Counter(c.role for c in cases)
    assert set(roles) == {"parent", "teacher", "admin"} and min(roles.values()) >= 50
    for role in roles:
        domains = {d for c in cases if c.role == role for d in c.domain.split("|")}
        assert STUDENT_DOMAINS - ({"fees"} if role == "teacher" else set()) <= domains, role
        assert {"policies", "account", "help", "calendar"} <= domains, role
    assert {c.kind for c in cases} == {"answered", "clarify", "not_found", "refused", "overview"}
    assert all(c.must for c in cases if c.kind in ("answered", "not_found"))
    lower = [c for c in cases if c.question == c.question.lower() and re.search("[a-z]", c.question)]
    assert len(lower) >= 0.1 * len(cases)  # typed as people type


def test_offline_at_least_95_percent_no_confident_wrong_answer_no_leak(make_app: Any) -> None:
    results, _password = _run(make_app(ASSISTANT_RATE_LIMIT=EVALUATION_RATE_LIMIT))
    share, wrong, leaks = _score(results)
    assert {r.mode for r in results} == {"offline"}
    assert not leaks, leaks
    assert not wrong, wrong
    assert share >= 0.95, evaluation_report(results, "offline")
    for role in ("parent", "teacher", "admin"):
        mine = [r for r in results if r.case.role == role]
        assert sum(r.passed for r in mine) / len(mine) >= 0.9, role


def test_with_a_model_it_only_phrases_what_the_rules_found(make_app: Any, model_server: ModelServer) -> None:
    app = make_app(**model_settings(model_server), ASSISTANT_RATE_LIMIT=EVALUATION_RATE_LIMIT)
    results, password = _run(app)
    share, wrong, leaks = _score(results)
    answered = [r for r in results if r.kind == "answered"]
    assert answered and {r.mode for r in answered} == {"model"}
    assert {r.mode for r in results if r.kind != "answered"} == {"offline"}  # nothing to phrase
    assert not leaks, leaks
    assert not wrong, wrong
    assert share >= 0.95, evaluation_report(results, "with the stand-in model")
    for request in model_server.received:  # the model was shown the facts, never a secret
        assert password not in request.prompt and API_KEY not in request.prompt


def test_the_report_counts_by_role_and_domain() -> None:
    from backend.assistant import EvaluationCase, judge

    good = EvaluationCase("parent1", "fees", "balance?", must=("{balance}",))
    bad = EvaluationCase("admin", "grades", "average?", must=("70.0%",), must_not=("Bob",))
    results = [
        judge(good, {"balance": "£10.00"}, {"answer": "It is £10.00.", "domain": "fees", "kind": "answered"}),
        judge(bad, {}, {"answer": "Bob: 55%", "domain": "grades", "kind": "answered"}),
    ]
    assert [r.passed for r in results] == [True, False]
    assert results[1].confident_wrong and results[1].leak and results[1].missing == ["70.0%"]
    text = evaluation_report(results, "t")
    assert "- Passed: 1 (50.0%)" in text and "- Confident wrong answers: 1" in text
    assert "| parent | 1/1 | 100.0% | 0 |" in text and "| grades | 0/1 | 0.0% | 1 |" in text
