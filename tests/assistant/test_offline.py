"""Offline answers (no model configured): every domain for every role, from that role's view."""

from __future__ import annotations

import pytest

from tests.assistant.conftest import ask
from tests.school import World

# (who, question, domain, facts the answer must contain, facts it must not)
CASES = [
    ("parent", "Was Alice at school today?", "attendance", ["Alice Archer", "absent"], ["Bob"]),
    (
        "parent",
        "How is Alice doing in maths?",
        "grades",
        ["Fractions quiz", "43/50"],
        ["Draft mock", "12/50"],
    ),
    ("parent", "What is my child's fee balance?", "fees", ["£987.65 (GBP)", "A-INV-1"], ["555", "777"]),
    (
        "parent",
        "Does my child have any allergies?",
        "health",
        ["Peanuts", "Asthma", "Salbutamol"],
        ["hearing"],
    ),
    ("parent", "Which classes is my child in?", "classes", ["5 Maths", "Test Teacher"], ["5 Art"]),
    ("parent", "Is there school on Saturday?", "calendar", ["No school", "weekend"], ["Alice"]),
    ("parent", "What is my child's admission number?", "enrollment", ["A-001"], ["A-002"]),
    ("parent", "Who are my child's guardians?", "guardians", ["mother", "fees: yes"], ["Bea Baker"]),
    ("parent", "What is the uniform policy?", "policies", ["Navy jumper"], ["green blazer"]),
    ("parent", "How do I change my password?", "account", ["Change your password"], []),
    ("parent", "Where do I see grades?", "help", ["Grades page", "published"], ["Enter grades"]),
    (
        "parent",
        "How do I take the register?",
        "help",
        ["Attendance page"],
        ["Register routine", "Take the register:"],
    ),
    ("bob_parent", "What is my child's balance?", "fees", ["does not include fees"], ["555", "£"]),
    ("bob_parent", "Any allergies or health alerts?", "health", ["does not include health"], ["hearing aid"]),
    ("bob_parent", "Was Bob at school today?", "attendance", ["Bob Baker", "no attendance"], ["Alice"]),
    ("teacher", "Who has been absent this week?", "attendance", ["Alice Archer", "absent on 1 day"], ["Bob"]),
    ("teacher", "How is Alice doing?", "grades", ["Fractions quiz", "Draft mock exam"], []),
    ("teacher", "What is Alice's fee balance?", "fees", ["not something your role can see"], ["987", "£"]),
    (
        "teacher",
        "Does Alice have allergies?",
        "health",
        ["Peanuts", "auto-injector"],
        ["Asthma", "Salbutamol"],
    ),
    ("teacher", "Which classes do I teach?", "classes", ["5 Maths", "1 students"], ["5 Art"]),
    ("teacher", "What is Alice's admission number?", "enrollment", ["A-001", "active"], []),
    ("teacher", "Who are Alice's guardians?", "guardians", ["mother", "primary contact"], ["Bea Baker"]),
    ("teacher", "What is the uniform policy?", "policies", ["Navy jumper"], ["green blazer"]),
    ("teacher", "Which email do I sign in with?", "account", ["teacher"], []),
    ("teacher", "How do I take the register?", "help", ["Take the register:", "Register routine"], []),
    ("teacher", "When does this term end?", "calendar", ["Current term runs from"], ["Alice"]),
    ("teacher", "Was Bob at school today?", "attendance", ["can't find Bob"], ["Bob Baker"]),
    ("admin", "Was Alice Archer at school today?", "attendance", ["absent"], []),
    ("admin", "How is Bob Baker doing in his tests?", "grades", ["no grades"], []),
    ("admin", "What is Bob's balance?", "fees", ["£555.00 (GBP)", "B-INV-1"], ["987", "777"]),
    ("admin", "What health alerts does Bob have?", "health", ["hearing aid"], ["Shellfish"]),
    ("admin", "Which classes are there?", "classes", ["5 Maths", "5 Art"], []),
    ("admin", "When was Bob enrolled?", "enrollment", ["A-002"], ["A-001"]),
    ("admin", "Who are Bob's guardians?", "guardians", ["Bea Baker", "father"], ["mother"]),
    ("admin", "What is the register routine policy?", "policies", ["ten minutes"], ["green blazer"]),
    ("admin", "How do I sign out of all devices?", "account", ["Sign out everywhere"], []),
    ("admin", "How do I add a user?", "help", ["Add a user"], []),
    ("admin", "Is there school tomorrow?", "calendar", ["Current term runs from"], []),
]


@pytest.mark.parametrize(("who", "question", "domain", "must", "must_not"), CASES, ids=[c[1] for c in CASES])
def test_each_domain_for_each_role(
    school: World, who: str, question: str, domain: str, must: list[str], must_not: list[str]
) -> None:
    body = ask(school, who, question)
    assert (body["domain"], body["mode"]) == (domain, "offline"), body
    for fact in must:
        assert fact in body["answer"], (fact, body["answer"])
    for fact in must_not:
        assert fact not in body["answer"] and all(fact not in f for f in body["facts"]), (fact, body)
    assert body["suggestions"]


def test_every_role_covers_every_domain_it_may_ask_about() -> None:
    from backend.assistant.catalogue import DOMAINS

    asked = {(who.replace("bob_", ""), domain) for who, _q, domain, _m, _n in CASES}
    for who in ("parent", "teacher", "admin"):
        missing = {d.name for d in DOMAINS} - {d for w, d in asked if w == who}
        assert not missing, (who, missing)


def test_a_question_it_cannot_place_says_what_it_can_help_with(school: World) -> None:
    body = ask(school, "parent", "Tell me a joke about penguins")
    assert (body["domain"], body["kind"]) == ("unknown", "clarify")
    assert "not sure" in body["answer"] and "have not looked anything up" in body["answer"]
    assert "Fees" in body["answer"] and "Alice" not in body["answer"]
    teacher = ask(school, "teacher", "Tell me a joke about penguins")
    assert "Fees" not in teacher["answer"]  # a teacher cannot ask about fees


def test_relative_dates_are_the_schools(school: World) -> None:
    from datetime import timedelta

    from backend.core.dates import today_in

    today = today_in("Europe/London")
    yesterday = today - timedelta(days=1)
    body = ask(school, "parent", "Was Alice at school yesterday?")
    assert f"{yesterday:%A} {yesterday.day} {yesterday:%B %Y}" in body["answer"]
    assert "no attendance was recorded" in body["answer"]
    weekday = f"{today:%A}"
    body = ask(school, "parent", f"Was Alice in school on {weekday}?")
    assert "absent" in body["answer"] and f"{today.day} {today:%B %Y}" in body["answer"]
    body = ask(school, "parent", "How was Alice's attendance last week?")
    monday = today - timedelta(days=today.weekday() + 7)
    assert f"{monday.day} {monday:%B %Y}" in body["answer"] and "0 absent" in body["answer"]
