"""Watching: `flask db doctor --watch` scans every interval until stopped and, with --autofix, fixes
the safe issues in the tables a school cannot lose, while the switch allows. A busy lock or a failed
scan is reported and the watch goes on."""

from __future__ import annotations

import time
from collections.abc import Callable

from backend.config import Settings
from backend.core.extensions import db
from backend.core.models import utcnow
from backend.doctor.errors import DoctorBusy, DoctorError
from backend.doctor.fixes import apply_fixes
from backend.doctor.service import ScanResult, run_scan
from backend.doctor.switch import switch_state

# The watcher's automatic fixes (when enabled) touch only these: the ones a school cannot lose.
CRITICAL_TABLES = frozenset(
    {
        "audit_events",
        "audit_chain_heads",
        "audit_policy",
        "users",
        "auth_sessions",
        "refresh_tokens",
        "invoices",
        "invoice_lines",
        "payments",
        "payment_reversals",
        "idempotency_keys",
    }
)
Report = Callable[[str], None]


def watch(
    settings: Settings,
    interval: float,
    *,
    autofix: bool,
    runs: int | None,
    report: Report,
    stopping: Callable[[], bool],
) -> int:
    """Scan every `interval` seconds (`runs` times, or until `stopping()`); with `autofix`, fix the
    safe issues in critical tables while fixing is switched on. The number of scans made."""
    made = 0
    while _going(made, runs, stopping):
        if _watch_once(settings, autofix=autofix, report=report):
            made += 1
        deadline = time.monotonic() + interval
        while _going(made, runs, stopping) and time.monotonic() < deadline:
            time.sleep(min(1.0, max(deadline - time.monotonic(), 0)))
    return made


def _going(made: int, runs: int | None, stopping: Callable[[], bool]) -> bool:
    return not stopping() and (runs is None or made < runs)


def _watch_once(settings: Settings, *, autofix: bool, report: Report) -> bool:
    """One scan, reported, and with `autofix` its fixes; whether the scan was made."""
    made = False
    try:
        result = run_scan(settings, "watch")
        made = True
        report(f"{utcnow():%H:%M:%S} {len(result.problems)} issue(s) need attention")
        if autofix:
            _autofix(settings, result, report)
    except DoctorBusy:
        report(f"{utcnow():%H:%M:%S} another scan is running; skipped")
    except DoctorError as error:
        report(f"{utcnow():%H:%M:%S} {error}")
    finally:
        db.session.remove()
    return made


def _autofix(settings: Settings, result: ScanResult, report: Report) -> None:
    """Fix the safe issues in critical tables, when the scan found any and fixing is switched on."""
    if not any(issue.fixable and issue.table in CRITICAL_TABLES for issue in result.issues):
        return
    if not switch_state(settings).fixes_enabled:
        report("  fixing is switched off: nothing fixed")
        return
    for outcome in apply_fixes(settings, None, trigger="watch", only_tables=CRITICAL_TABLES):
        report(f"  fix {outcome.issue_id}: {outcome.status} ({outcome.message})")
