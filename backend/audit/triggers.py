"""The database guards the audit trail relies on, as the code expects them to exist.

The migrations (0004, 0007) created them; migrations never import application code, so they keep
their own copies, and `tests/doctor` checks that a migrated database has exactly these. The schema
doctor reports a missing one and can create it again (each statement is idempotent)."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

_EVENTS_GUARD_FUNCTION = """
CREATE OR REPLACE FUNCTION audit_events_guard() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    IF TG_OP = 'UPDATE' THEN
        RAISE EXCEPTION 'audit_events is append-only: UPDATE is not allowed';
    END IF;
    IF OLD.occurred_at > now() - make_interval(days => (SELECT retention_days FROM audit_policy)) THEN
        RAISE EXCEPTION 'audit events younger than the retention cannot be deleted';
    END IF;
    RETURN OLD;
END $$
"""
_NO_WIPE_FUNCTION = """
CREATE OR REPLACE FUNCTION audit_no_wipe() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    RAISE EXCEPTION '% is append-only: % is not allowed', TG_TABLE_NAME, TG_OP;
END $$
"""


@dataclass(frozen=True)
class TriggerSpec:
    name: str
    table: str
    purpose: str
    create: tuple[str, ...]  # run in order, in one transaction


TRIGGERS: dict[Literal["postgresql", "sqlite"], tuple[TriggerSpec, ...]] = {
    "postgresql": (
        TriggerSpec(
            "audit_events_guard",
            "audit_events",
            "it refuses UPDATEs and early DELETEs of audit events.",
            (
                _EVENTS_GUARD_FUNCTION,
                "CREATE TRIGGER audit_events_guard BEFORE UPDATE OR DELETE ON audit_events "
                "FOR EACH ROW EXECUTE FUNCTION audit_events_guard()",
            ),
        ),
        TriggerSpec(
            "audit_events_no_truncate",
            "audit_events",
            "it refuses TRUNCATE of the audit trail.",
            (
                _NO_WIPE_FUNCTION,
                "CREATE TRIGGER audit_events_no_truncate BEFORE TRUNCATE ON audit_events "
                "FOR EACH STATEMENT EXECUTE FUNCTION audit_no_wipe()",
            ),
        ),
        TriggerSpec(
            "audit_chain_heads_no_truncate",
            "audit_chain_heads",
            "it refuses TRUNCATE of the chain heads.",
            (
                _NO_WIPE_FUNCTION,
                "CREATE TRIGGER audit_chain_heads_no_truncate BEFORE TRUNCATE ON audit_chain_heads "
                "FOR EACH STATEMENT EXECUTE FUNCTION audit_no_wipe()",
            ),
        ),
        TriggerSpec(
            "audit_chain_heads_no_delete",
            "audit_chain_heads",
            "it refuses DELETEs of chain heads.",
            (
                _NO_WIPE_FUNCTION,
                "CREATE TRIGGER audit_chain_heads_no_delete BEFORE DELETE ON audit_chain_heads "
                "FOR EACH ROW EXECUTE FUNCTION audit_no_wipe()",
            ),
        ),
    ),
    "sqlite": (
        TriggerSpec(
            "audit_events_no_update",
            "audit_events",
            "it refuses UPDATEs of audit events.",
            (
                "CREATE TRIGGER IF NOT EXISTS audit_events_no_update BEFORE UPDATE ON audit_events "
                "BEGIN SELECT RAISE(ABORT, 'audit_events is append-only: UPDATE is not allowed'); END",
            ),
        ),
        TriggerSpec(
            "audit_events_no_early_delete",
            "audit_events",
            "it refuses DELETEs of events younger than the retention.",
            (
                "CREATE TRIGGER IF NOT EXISTS audit_events_no_early_delete BEFORE DELETE ON audit_events "
                "WHEN OLD.occurred_at > datetime('now', '-' || (SELECT retention_days FROM audit_policy) "
                "|| ' days') "
                "BEGIN SELECT RAISE(ABORT, 'audit events younger than the retention cannot be deleted'); END",
            ),
        ),
        TriggerSpec(
            "audit_chain_heads_no_delete",
            "audit_chain_heads",
            "it refuses DELETEs of chain heads.",
            (
                "CREATE TRIGGER IF NOT EXISTS audit_chain_heads_no_delete BEFORE DELETE ON audit_chain_heads "
                "BEGIN SELECT RAISE(ABORT, 'audit_chain_heads is append-only: DELETE is not allowed'); END",
            ),
        ),
    ),
}
