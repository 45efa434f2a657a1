"""`flask outbox run`: deliver the outbox until told to stop.

A round that fails on the database (a restart, a network blip) is logged and retried after a
pause that grows with each failure; the sender itself keeps running.

Each round turns waiting password-reset requests into emails, claims a batch of due messages
(leased to this sender, so several senders share the work without sending anything twice),
sends each, and records the outcome. SIGTERM or SIGINT stops it after the message in hand; the
rest of its batch goes back to the queue at once.
"""

from __future__ import annotations

import os
import signal
import socket
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from types import FrameType

import structlog
from flask import Flask
from sqlalchemy import update
from sqlalchemy.exc import SQLAlchemyError

from backend.config import Settings
from backend.core.extensions import db
from backend.mail import outbox
from backend.mail.models import MailStatus, OutboxMessage
from backend.mail.smtp import DeliveryError, compose, send
from backend.tenancy import platform_access

log = structlog.get_logger("homeroom.mail")
BeforeRound = Callable[[Settings], int]
_BEFORE_ROUND = "homeroom.outbox_before_round"


def register_before_round(app: Flask, hook: BeforeRound) -> None:
    """Work a feature does at the start of each sender round (auth turns reset requests into
    emails): registered at start-up, so mail never imports the features that use it."""
    app.extensions.setdefault(_BEFORE_ROUND, []).append(hook)


def before_round_hooks(app: Flask) -> BeforeRound | None:
    """Every registered hook as one; None when there are none. Returns how much they handled."""
    hooks: list[BeforeRound] = app.extensions.get(_BEFORE_ROUND, [])
    if not hooks:
        return None
    return lambda settings: sum(hook(settings) for hook in hooks)


@dataclass
class Totals:
    sent: int = 0
    failed: int = 0


class Sender:
    def __init__(
        self,
        app: Flask,
        settings: Settings,
        *,
        before_round: BeforeRound | None = None,
        deliver_mail: bool = True,
    ) -> None:
        self.app, self.settings = app, settings
        self.deliver_mail = deliver_mail  # False: only the before-round work (jobs); mail stays queued
        self.name = f"{socket.gethostname()}:{os.getpid()}:{threading.get_ident() % 10_000}"
        self.stopping = threading.Event()
        self.before_round = before_round
        self.totals = Totals()

    def stop(self, *_args: object) -> None:
        self.stopping.set()

    def install_signal_handlers(self) -> None:
        def handle(signum: int, _frame: FrameType | None) -> None:
            log.info("outbox_sender_stopping", signal=signal.Signals(signum).name)
            self.stop()

        signal.signal(signal.SIGTERM, handle)
        signal.signal(signal.SIGINT, handle)

    def run(self, *, max_seconds: float | None = None, until_idle: bool = False) -> Totals:
        """Rounds until stopped (or `max_seconds`, or, with `until_idle`, nothing left to do)."""
        deadline = None if max_seconds is None else time.monotonic() + max_seconds
        log.info("outbox_sender_started", sender=self.name)
        failures = 0
        while not self.stopping.is_set() and (deadline is None or time.monotonic() < deadline):
            # Platform-wide work: every school's mail and its before-round hooks (late marks, say).
            with self.app.app_context(), platform_access("mail sender"):
                try:
                    worked = self.round()
                    failures = 0
                except SQLAlchemyError as error:  # the database is away: wait and try again
                    db.session.rollback()
                    failures += 1
                    worked = 0
                    log.warning("outbox_round_failed", error_type=type(error).__name__, failures=failures)
                finally:
                    db.session.remove()
            if not worked:
                if until_idle and not failures:
                    break
                pause = self.settings.outbox_poll_seconds * min(2**failures, 30)
                self.stopping.wait(pause)
        log.info("outbox_sender_stopped", sender=self.name, sent=self.totals.sent, failed=self.totals.failed)
        return self.totals

    def round(self) -> int:
        """One round; how many messages (and reset requests) it handled."""
        handled = self.before_round(self.settings) if self.before_round else 0
        batch = outbox.claim(self.name, self.settings.outbox_batch_size) if self.deliver_mail else []
        for position, message in enumerate(batch):
            if self.stopping.is_set():
                self._release(batch[position:])
                break
            self._deliver(message)
        return handled + len(batch)

    def _deliver(self, message: OutboxMessage) -> None:
        try:
            email = compose(self.settings, message)
        except ValueError as error:  # a header Python's email library refuses: no retry can help
            outbox.failed(self.settings, message, f"cannot be composed: {error}", final=True)
            self.totals.failed += 1
            log.error(
                "mail_failed", message_id=str(message.id), kind=message.kind, dead=True, error=str(error)
            )
            return
        try:
            send(self.settings, email)
        except DeliveryError as error:
            outbox.failed(self.settings, message, str(error))
            self.totals.failed += 1
            emit = log.error if message.status == MailStatus.DEAD else log.warning
            emit(
                "mail_failed",
                message_id=str(message.id),
                kind=message.kind,
                attempts=message.attempts,
                dead=message.status == MailStatus.DEAD,
                error=str(error),
            )
            return
        outbox.delivered(message)
        self.totals.sent += 1
        log.info("mail_sent", message_id=str(message.id), kind=message.kind, attempts=message.attempts)

    def _release(self, messages: list[OutboxMessage]) -> None:
        ids = [m.id for m in messages]
        db.session.execute(
            update(OutboxMessage)
            .where(OutboxMessage.id.in_(ids), OutboxMessage.claimed_by == self.name)
            .values(status=MailStatus.QUEUED.value, claimed_by=None, claimed_until=None)
        )
        db.session.commit()
