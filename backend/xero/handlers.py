"""Each Xero job kind and its handler, in the runner's terms: a 4xx from Xero is final (a dead
letter, for a person), a connection that cannot be used waits for a reconnect (never a retry
storm); anything else is retried with backoff."""

from __future__ import annotations

import functools

from backend.config import Settings
from backend.jobs import Defer, GiveUp, Handler, Job
from backend.xero import client, inbound, sync, tokens


def classified(handler: Handler) -> Handler:
    """The runner's terms for Xero's answers: a 4xx is final (dead letter, for a person), a
    connection that cannot be used waits for a reconnect (never a retry storm); the rest is
    retried with backoff."""

    @functools.wraps(handler)
    def run(job: Job, settings: Settings) -> None:
        try:
            handler(job, settings)
        except client.Rejected as error:
            raise GiveUp(str(error)) from None
        except tokens.NotConnected as error:
            raise Defer(tokens.RECONNECT_WAIT, str(error)) from None

    return run


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
