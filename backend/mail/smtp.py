"""Delivering one message over SMTP: smtplib with a timeout, STARTTLS or TLS, credentials from
SMTP_URL. Errors come back as `DeliveryError` with a message that holds no credentials."""

from __future__ import annotations

import smtplib
import ssl
from email import policy
from email.message import EmailMessage
from email.utils import format_datetime, parseaddr
from urllib.parse import unquote, urlsplit

from backend.config import Settings
from backend.core.models import utcnow
from backend.mail.models import OutboxMessage

# The default policy, except that a header stored as written (`set_raw`) is sent as written: the
# default re-encodes a long one as RFC 2047 words, and clients ignore a List-Unsubscribe URL so
# encoded. (Every other header is still folded, and encoded where needed, as usual.)
_POLICY = policy.default.clone(refold_source="none")
# Longest header line SMTP carries (RFC 5322 2.1.1: 998 characters before CRLF).
_MAX_LINE = 998


class DeliveryError(Exception):
    """The server refused the message or could not be reached; worth another attempt later."""


def compose(settings: Settings, message: OutboxMessage) -> EmailMessage:
    """The MIME message: a plain-text part, the HTML alternative, the time it is sent (`Date`) and
    a Message-ID fixed per message (its outbox id at the sender's domain), so a server or client
    that sees a retried message twice can tell. The kind's own headers (List-Unsubscribe) go out
    exactly as rendered, unfolded and unencoded."""
    email = EmailMessage(policy=_POLICY)
    email["From"] = settings.mail_from or ""
    email["To"] = message.recipient
    email["Subject"] = message.subject
    email["Date"] = format_datetime(utcnow())
    email["Message-ID"] = f"<{message.id.hex}@{message_domain(settings)}>"
    for name, value in message.headers.items():
        line = f"{name}: {value}"
        if "\r" in line or "\n" in line or len(line) > _MAX_LINE or not line.isascii():
            raise DeliveryError(f"the {name} header cannot be sent as written")
        email.set_raw(name, value)
    email.set_content(message.text_body)
    if message.html_body:
        email.add_alternative(message.html_body, subtype="html")
    return email


def message_domain(settings: Settings) -> str:
    """The domain of Message-IDs: MAIL_FROM's, else the web app's host."""
    domain = parseaddr(settings.mail_from or "")[1].rpartition("@")[2].strip().lower()
    if domain and domain.isascii() and "[" not in domain:
        return domain
    return urlsplit(settings.app_base_url).hostname or "localhost"


def send(settings: Settings, email: EmailMessage) -> None:
    if settings.smtp_url is None:
        raise DeliveryError("SMTP_URL is not set")
    url = urlsplit(settings.smtp_url.get_secret_value())
    secure = url.scheme == "smtps"
    port = url.port or (465 if secure else 25)
    context = ssl.create_default_context(cafile=settings.smtp_ca_file)
    try:
        client: smtplib.SMTP = (
            smtplib.SMTP_SSL(url.hostname or "", port, timeout=settings.smtp_timeout, context=context)
            if secure
            else smtplib.SMTP(url.hostname or "", port, timeout=settings.smtp_timeout)
        )
        with client:
            client.ehlo()
            if not secure and settings.smtp_starttls != "off":
                if client.has_extn("starttls"):
                    client.starttls(context=context)
                    client.ehlo()
                elif settings.smtp_starttls == "require":
                    raise DeliveryError("the server does not offer STARTTLS (SMTP_STARTTLS=require)")
            if url.username:
                client.login(unquote(url.username), unquote(url.password or ""))
            client.send_message(email)
    except (smtplib.SMTPException, OSError) as error:
        raise DeliveryError(f"{type(error).__name__}: {_safe(error)}") from None


def _safe(error: Exception) -> str:
    """The error's own text, first line, without anything that looks like the URL's secrets."""
    if isinstance(error, smtplib.SMTPResponseException):
        text = (
            error.smtp_error
            if isinstance(error.smtp_error, str)
            else error.smtp_error.decode(errors="replace")
        )
        return f"{error.smtp_code} {text[:200]}"
    return str(error).splitlines()[0][:200] if str(error) else ""
