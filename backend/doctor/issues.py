"""What a scan finds: an `Issue` (a stable id, a severity, a message) with either a `SafeFix` or a
note that it needs review, and the rules read off a list of them: which need attention, and how
many there are of each severity. Every other doctor module speaks in these terms."""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field
from enum import StrEnum
from typing import Any, Literal


class Severity(StrEnum):
    CRITICAL = "critical"  # the app may misbehave or lose its guarantees
    WARNING = "warning"  # slower, or weaker than designed
    INFO = "info"  # worth knowing; nothing is wrong for the app


SEVERITY_ORDER = {Severity.CRITICAL: 0, Severity.WARNING: 1, Severity.INFO: 2}

Dialect = Literal["postgresql", "sqlite"]


@dataclass(frozen=True)
class SafeFix:
    """Statements that only add what is missing. `transactional` is False for PostgreSQL's
    `CREATE INDEX CONCURRENTLY`, which cannot run inside a transaction."""

    statements: tuple[str, ...]
    transactional: bool = True


@dataclass(frozen=True)
class Issue:
    id: str
    kind: str
    severity: Severity
    table: str | None
    message: str
    fix: SafeFix | None = None
    # No fix is safe: the doctor writes a draft revision for a human to review instead.
    needs_review: bool = False
    details: dict[str, Any] = field(default_factory=dict)

    @property
    def fixable(self) -> bool:
        return self.fix is not None

    def as_dict(self) -> dict[str, Any]:
        return {
            "id": self.id,
            "kind": self.kind,
            "severity": self.severity.value,
            "table": self.table,
            "message": self.message,
            "fixable": self.fixable,
            "fix_sql": list(self.fix.statements) if self.fix else [],
            "needs_review": self.needs_review,
            "details": self.details,
        }


def needing_attention(issues: list[Issue]) -> list[Issue]:
    """Issues that need attention (info ones do not)."""
    return [issue for issue in issues if issue.severity != Severity.INFO]


def severity_counts(severities: Iterable[str]) -> dict[str, int]:
    """How many issues of each severity (every severity present, 0 when none)."""
    counts = {severity.value: 0 for severity in Severity}
    for severity in severities:
        counts[severity] += 1
    return counts


def issues_by_severity(issues: list[Issue]) -> dict[str, int]:
    return severity_counts(issue.severity.value for issue in issues)
