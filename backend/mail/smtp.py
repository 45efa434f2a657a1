"""Delivering one message over SMTP: smtplib with a timeout, STARTTLS or TLS, credentials from
SMTP_URL. Errors come back as `DeliveryError` with a message that holds no credentials."""

from __future__ import annotations

import smtplib
import ssl
from email.message import EmailMessage
from email.utils import make_msgid
from urllib.parse import unquote, urlsplit

from backend.config import Settings
from backend.mail.models import OutboxMessage


class DeliveryError(Exception):
    """The server refused the message or could not be reached; worth another attempt later."""


def compose(settings: Settings, message: OutboxMessage) -> EmailMessage:
    """The MIME message: a plain-text part, the HTML alternative, and a Message-ID derived from
    the dedup key, so a server that sees a retried message twice can tell."""
    email = EmailMessage()
    email["From"] = settings.mail_from or ""
    email["To"] = message.recipient
    email["Subject"] = message.subject
    email["Message-ID"] = make_msgid(idstring=message.id.hex, domain="homeroom.invalid")
    for name, value in message.headers.items():
        email[name] = value
    email.set_content(message.text_body)
    if message.html_body:
        email.add_alternative(message.html_body, subtype="html")
    return email


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
