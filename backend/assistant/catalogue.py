"""What the assistant can talk about: its domains, written once (the web app's pages are in
`pages`). A domain names the permission its facts need (fees need `fees.read`)."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

from backend.tenancy import Role, allowed

DomainName = Literal[
    "attendance",
    "grades",
    "fees",
    "health",
    "classes",
    "enrollment",
    "guardians",
    "policies",
    "calendar",
    "account",
    "help",
]
PageName = Literal[
    "dashboard",
    "students",
    "student",
    "attendance",
    "grades",
    "fees",
    "health",
    "classes",
    "users",
    "audit",
    "knowledge",
    "account",
]


@dataclass(frozen=True)
class Domain:
    name: DomainName
    title: str
    description: str
    sample_questions: tuple[str, ...]
    permission: str  # the caller needs it for the domain's facts


DOMAINS: tuple[Domain, ...] = (
    Domain(
        "attendance",
        "Attendance",
        "Marks for a day or a range (today, Monday, last week, this term), absences and the rate.",
        ("Was my child at school on Monday?", "Who has been absent three days this week?"),
        "attendance.read",
    ),
    Domain(
        "grades",
        "Grades",
        "Recent results, term averages, and results in one subject.",
        ("How is my child doing in maths?", "What was the last test result?"),
        "grades.read",
    ),
    Domain(
        "fees",
        "Fees",
        "The balance in the school's currency, what is overdue and when the next payment is due.",
        ("What is my child's fee balance?", "When is the next payment due?"),
        "fees.read",
    ),
    Domain(
        "health",
        "Health and wellbeing",
        "Allergies and alerts (and, where the role allows, conditions and medication).",
        ("Does my child have any allergies on record?", "What should I know about this student's health?"),
        "health.read",
    ),
    Domain(
        "classes",
        "Classes and teachers",
        "Which classes a student is in, and the classes a teacher teaches.",
        ("Which classes is my child in?", "Which classes do I teach this term?"),
        "students.read",
    ),
    Domain(
        "enrollment",
        "Enrollment",
        "A student's admission number, year, status and enrolment dates.",
        ("What is my child's admission number?", "When did this student join?"),
        "students.read",
    ),
    Domain(
        "guardians",
        "Guardians and contacts",
        "Who is linked to a student, and what each link allows.",
        ("Who are the guardians of this student?", "Can I see my child's fees and health record?"),
        "students.read",
    ),
    Domain(
        "policies",
        "School policies and FAQs",
        "The school's own answers: uniform, hours, absences, payments and more.",
        ("What is the uniform policy?", "How do I report an absence?"),
        "knowledge.read",
    ),
    Domain(
        "calendar",
        "School days and term dates",
        "Whether there is school on a day, when term starts and ends, and the holidays.",
        ("Is there school on Friday?", "When does this term end?"),
        "auth.self",
    ),
    Domain(
        "account",
        "Account and sign-in",
        "Your profile, your password and your signed-in sessions.",
        ("How do I change my password?", "Which email do I sign in with?"),
        "auth.self",
    ),
    Domain(
        "help",
        "Using Homeroom",
        "Where things are in Homeroom and how to do them, for your role.",
        ("Where do I see my child's grades?", "How do I take the register?"),
        "auth.self",
    ),
)
DOMAIN_BY_NAME = {domain.name: domain for domain in DOMAINS}


def domains_for(role: Role | str) -> list[Domain]:
    return [domain for domain in DOMAINS if allowed(role, domain.permission)]
