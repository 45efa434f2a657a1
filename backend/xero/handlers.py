"""Each Xero job kind and its handler, in the runner's terms: a 4xx from Xero is final (a dead
letter, for a person), except a 403 (the organisation withdrew Homeroom's access: the connection
needs its admin, like a refused grant); a connection that cannot be used waits for a reconnect
(never a retry storm); anything else is retried with backoff."""

from __future__ import annotations

import functools

from backend.config import Settings
from backend.core.extensions import db
from backend.jobs import Defer, GiveUp, Handler, Job
from backend.xero import client, inbound, sync, tokens
from backend.xero.models import ConnectionState


def classified(handler: Handler) -> Handler:
    """The runner's terms for Xero's answers: a 4xx is final (dead letter, for a person), a
    connection that cannot be used waits for a reconnect (never a retry storm); the rest is
    retried with backoff."""

    @functools.wraps(handler)
    def run(job: Job, settings: Settings) -> None:
        try:
            handler(job, settings)
        except client.Forbidden as error:
            _access_withdrawn(settings, job, str(error))
            raise Defer(tokens.RECONNECT_WAIT, str(error)) from None
        except client.Rejected as error:
            raise GiveUp(str(error)) from None
        except tokens.NotConnected as error:
            raise Defer(tokens.RECONNECT_WAIT, str(error)) from None

    return run


def _access_withdrawn(settings: Settings, job: Job, reason: str) -> None:
    """The organisation refuses Homeroom (403) although the tokens still work: the connection
    needs its admin to connect again (state, one email, an audit event), once."""
    db.session.rollback()
    if job.school_id is None:
        return
    connection = tokens.locked_connection(job.school_id)
    if connection is not None and connection.state == ConnectionState.CONNECTED:
        tokens.needs_reconnect(settings, connection, reason)
    db.session.commit()


HANDLERS: dict[str, Handler] = {
    kind: classified(handler)
    for kind, handler in {
        "xero.invoice": sync.sync_invoice,
        "xero.payment": sync.sync_payment,
        "xero.reversal": sync.sync_reversal,
        "xero.webhook": inbound.from_webhook,
        "xero.keepalive": inbound.keepalive,
    }.items()
}
