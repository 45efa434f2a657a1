"""`flask db doctor`: scan (a table, or --json), fix safe issues (--fix), or keep watching (--watch).

Exit status: 0 nothing needs attention, 1 issues (or a fix that failed), 2 the scan could not run
(the database is unreachable, or another scan holds the lock).
"""

from __future__ import annotations

import contextlib
import json
import signal
import sys
from types import FrameType
from typing import NoReturn, TextIO

import click
from flask.cli import with_appcontext

from backend.config import Settings, current_settings
from backend.doctor import fixes, service, watcher
from backend.doctor.errors import DoctorError
from backend.doctor.issues import Issue, Severity, issues_by_severity
from backend.doctor.service import ScanResult

SEVERITY_COLOURS = {"critical": "red", "warning": "yellow", "info": "cyan"}


@click.command("doctor")
@click.argument("issue_ids", nargs=-1)
@click.option("--json", "as_json", is_flag=True, help="Machine-readable output (every issue).")
@click.option("--all", "show_info", is_flag=True, help="Also list informational notes.")
@click.option("--fix", is_flag=True, help="Apply safe fixes: the named issues, or every fixable one.")
@click.option("--watch", is_flag=True, help="Scan every --interval seconds until stopped.")
@click.option("--interval", default=300.0, show_default=True, type=click.FloatRange(1))
@click.option("--autofix", is_flag=True, help="With --watch: fix safe issues in critical tables.")
@click.option("--runs", type=click.IntRange(1), help="With --watch: stop after this many scans.")
@with_appcontext
def doctor_command(
    issue_ids: tuple[str, ...],
    as_json: bool,
    show_info: bool,
    fix: bool,
    watch: bool,
    interval: float,
    autofix: bool,
    runs: int | None,
) -> None:
    """Compare the live database with the models and migrations; report, fix safely, or watch."""
    settings = current_settings()
    if issue_ids and not fix:
        raise click.UsageError("Issue ids are given only with --fix.")
    if watch:
        _keep_watching(settings, interval, autofix=autofix, runs=runs)
        return
    out = sys.stdout
    # With --json, stdout holds the report alone: log lines go to stderr meanwhile.
    with contextlib.redirect_stdout(sys.stderr) if as_json else contextlib.nullcontext():
        try:
            if fix:
                _fix(settings, issue_ids, out)
            result = service.run_scan(settings, "cli")
        except DoctorError as error:
            _failed(error, as_json, out)
    if as_json:
        _json_report(result, out)
    else:
        _table_report(result, show_info)
    sys.exit(1 if result.problems else 0)


def _keep_watching(settings: Settings, interval: float, *, autofix: bool, runs: int | None) -> None:
    """Watch until SIGTERM or SIGINT (or `runs` scans), then say how many scans were made."""
    stop = {"now": False}

    def _stop(_signum: int, _frame: FrameType | None) -> None:
        stop["now"] = True

    signal.signal(signal.SIGTERM, _stop)
    signal.signal(signal.SIGINT, _stop)
    made = watcher.watch(
        settings, interval, autofix=autofix, runs=runs, report=click.echo, stopping=lambda: stop["now"]
    )
    click.echo(f"Stopped after {made} scan(s).", err=True)


def _fix(settings: Settings, issue_ids: tuple[str, ...], out: TextIO) -> None:
    """Apply the named fixes (or every safe one), one line each; exit 1 when one failed."""
    outcomes = fixes.apply_fixes(settings, list(issue_ids) or None, trigger="cli")
    for outcome in outcomes:
        click.echo(f"{outcome.status:<8} {outcome.issue_id}: {outcome.message}", file=out)
    if outcomes and outcomes[-1].backup_file:
        click.echo(f"Backup taken first: {outcomes[-1].backup_file}", err=True)
    if any(outcome.status == "failed" for outcome in outcomes):
        sys.exit(1)


def _failed(error: DoctorError, as_json: bool, out: TextIO) -> NoReturn:
    if as_json:
        click.echo(json.dumps({"status": "failed", "error": str(error)}), file=out)
    else:
        click.echo(f"Error: {error}", err=True)
    sys.exit(2)


def _json_report(result: ScanResult, out: TextIO) -> None:
    report = {
        "status": result.status,
        "scan_id": str(result.scan_id),
        "counts": issues_by_severity(result.issues),
        "draft": str(result.draft) if result.draft else None,
        "issues": [issue.as_dict() for issue in result.issues],
    }
    click.echo(json.dumps(report, indent=2), file=out)


def _table_report(result: ScanResult, show_info: bool) -> None:
    _table(result.issues, show_info)
    if result.draft:
        click.echo(f"\nDraft migration for the issues marked review: {result.draft}")
    fixable = [issue.id for issue in result.issues if issue.fixable]
    if fixable:
        click.echo(f"Safe fixes (a backup is taken first): flask db doctor --fix {' '.join(fixable)}")


def _table(issues: list[Issue], show_info: bool) -> None:
    shown = [issue for issue in issues if show_info or issue.severity != Severity.INFO]
    hidden = len(issues) - len(shown)
    if not shown:
        click.echo("No issues: the database matches the models, migrations and triggers.")
    width = max((len(issue.id) for issue in shown), default=0)
    for issue in shown:
        severity = click.style(f"{issue.severity.value:<8}", fg=SEVERITY_COLOURS[issue.severity.value])
        action = "fix" if issue.fixable else "review" if issue.needs_review else "-"
        click.echo(f"{severity} {issue.id:<{width}}  {action:<6}  {issue.message}")
    if hidden:
        click.echo(f"({hidden} informational note(s) not shown: --all lists them.)")
