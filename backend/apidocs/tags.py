"""The API document's tags: their order and a one-line description of each, declared here only.

A tag is the blueprint an operation belongs to. The order is a newcomer's: signing in and the
account first, then the school records, then operations. `tests/apidocs/test_tags.py` fails when an
operation's tag is missing here."""

from __future__ import annotations

TAGS: tuple[tuple[str, str], ...] = (
    # Signing in and the account
    (
        "auth",
        "Sign in and out, refresh tokens, change or reset a password, accept an invitation; who you are.",
    ),
    ("mail", "Which optional emails you receive, and the one-click unsubscribe of their links."),
    ("users", "The school's user accounts, their roles and invitations (admins)."),
    ("schools", "Your school and its settings."),
    # The school records
    ("students", "Students, their details and their guardians."),
    ("terms", "The school year's terms."),
    ("classes", "Classes, their teachers and enrollments; moving a class on to next year."),
    ("attendance", "Registers, corrections, and attendance reports as JSON or CSV."),
    ("grades", "Assessments and the grades given for them."),
    (
        "reportcards",
        "Grade scales, term results, report comments; published term reports as JSON, PDF, ZIP and CSV.",
    ),
    ("fees", "Invoices, payments, reversals and balances."),
    ("health_records", "Students' health records: whole or alerts only, by role."),
    ("dashboard", "A parent's page: each child today and this term, in one request."),
    (
        "announcements",
        "What the school says to families and staff: now or later, each user's feed, read receipts.",
    ),
    ("assistant", "Questions answered from the data you may see, help for a page, the knowledge base."),
    ("assistant_students", "Questions about one student."),
    ("bulk", "CSV imports (every row or none) and streamed exports."),
    ("xero", "The school's Xero organisation: connect it, its codes, a full sync, Xero's webhooks."),
    ("audit", "The school's audit trail."),
    # Operations
    ("ops", "For platform operators: schema health and fixes, backups, audit chains."),
    ("ops_console", "The operators' web console."),
    ("probes", "Liveness, readiness, each component's health, Prometheus metrics."),
    ("apidocs", "This description of the API and its interactive docs page."),
)
