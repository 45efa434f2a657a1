"""Xero's webhooks: the signature is the credential. `x-xero-signature` is the base64 HMAC-SHA256
of the raw body under XERO_WEBHOOK_KEY, compared in constant time; a bad one is a 401 (Xero's
intent-to-receive check sends some on purpose), a good one a 200 within Xero's 5 s: the events are
only queued here, as jobs, and handled by the runner."""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
from typing import Any

import structlog
from sqlalchemy import select

from backend import jobs
from backend.config import Settings
from backend.core.errors import BadRequest, Unauthorized
from backend.core.extensions import db
from backend.tenancy import platform_access
from backend.xero.models import ConnectionState, XeroConnection

log = structlog.get_logger("homeroom.xero")


def signed(settings: Settings, body: bytes, signature: str | None) -> bool:
    if settings.xero_webhook_key is None or not signature:
        return False
    key = settings.xero_webhook_key.get_secret_value().encode()
    expected = base64.b64encode(hmac.new(key, body, hashlib.sha256).digest())
    return hmac.compare_digest(expected, signature.strip().encode())


def _events(body: bytes) -> list[dict[str, Any]]:
    try:
        envelope = json.loads(body)
        events = envelope.get("events", [])
    except (ValueError, AttributeError):
        raise BadRequest("The webhook body is not Xero's JSON envelope.") from None
    if not isinstance(events, list):
        raise BadRequest("The webhook body is not Xero's JSON envelope.")
    return [event for event in events if isinstance(event, dict)]


def receive(settings: Settings, body: bytes, signature: str | None) -> int:
    """Check the signature, queue each event for the school whose organisation it names; how many
    were queued (an intent-to-receive check has none)."""
    if not signed(settings, body, signature):
        log.warning("xero_webhook_refused", reason="signature")
        raise Unauthorized("The webhook signature does not match.")
    events = _events(body)
    queued = 0
    with platform_access("xero webhook: the organisation names the school"):
        for event in events:
            queued += _queue(event)
        db.session.commit()
    log.info("xero_webhook_received", events=len(events), queued=queued)
    return queued


def _queue(event: dict[str, Any]) -> int:
    tenant_id, resource_id = str(event.get("tenantId") or ""), str(event.get("resourceId") or "")
    school_id = db.session.scalar(
        select(XeroConnection.school_id).where(
            XeroConnection.tenant_id == tenant_id, XeroConnection.state != ConnectionState.DISABLED.value
        )
    )
    if school_id is None or not resource_id:
        return 0  # an organisation no school here is connected to
    fingerprint = hashlib.sha256(
        json.dumps([tenant_id, resource_id, event.get("eventDateUtc"), event.get("eventType")]).encode()
    ).hexdigest()
    job = jobs.enqueue(
        "xero.webhook",
        {
            "category": str(event.get("eventCategory") or ""),
            "resource_id": resource_id,
            "type": str(event.get("eventType") or ""),
        },
        dedup_key=f"xero.webhook:{fingerprint}",
        school_id=school_id,
    )
    return int(job is not None)
