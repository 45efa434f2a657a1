"""Each kind of email as a plain-text and an HTML part (Jinja templates in `templates/`), with the
school's name; optional kinds carry a signed unsubscribe link to the web app's page
(APP_BASE_URL/unsubscribe) and, for mail providers, `List-Unsubscribe: <the API's URL>` with
`List-Unsubscribe-Post: List-Unsubscribe=One-Click` (RFC 8058), which `smtp.compose` sends as written."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from itsdangerous import BadSignature, URLSafeSerializer
from jinja2 import Environment, PackageLoader, StrictUndefined, select_autoescape

from backend.config import Settings
from backend.core.dates import long_date
from backend.mail.models import OPTIONAL_KINDS, MailKind, OutboxMessage

SUBJECTS = {
    MailKind.INVITATION: "You are invited to {school} on Homeroom",
    MailKind.PASSWORD_RESET: "Reset your Homeroom password",
    MailKind.ABSENCE_ALERT: "{student} was marked {status} today",
    MailKind.FEE_REMINDER: "{school}: invoice {number} {stage_text}",
    MailKind.INTEGRATION_ALERT: "{school}: {integration} needs to be reconnected",
    MailKind.REPORT_CARD: "{school}: {student}'s report for {term} {verb}",
    MailKind.URGENT_ANNOUNCEMENT: "Urgent from {school}: {title}",
    MailKind.ANNOUNCEMENT: "{school}: {title}",
}
MAX_SUBJECT: int = OutboxMessage.__table__.c.subject.type.length  # type: ignore[attr-defined]  # String(300)
_ENV = Environment(  # dates go in as dates: `{{ day | long_date }}`
    loader=PackageLoader("backend.mail", "templates"),
    autoescape=select_autoescape(["html"]),
    undefined=StrictUndefined,
    trim_blocks=True,
    lstrip_blocks=True,
    keep_trailing_newline=True,
    auto_reload=False,  # templates ship with the code: no file check per email (2,000 for a school)
)
_ENV.filters["long_date"] = long_date


@dataclass(frozen=True)
class Rendered:
    subject: str
    text: str
    html: str | None
    headers: dict[str, str] = field(default_factory=dict)


def _signer(settings: Settings) -> URLSafeSerializer:
    secret = settings.secret_key.get_secret_value() if settings.secret_key else ""
    return URLSafeSerializer(secret, salt="homeroom.unsubscribe")


def unsubscribe_token(settings: Settings, user_id: str, kind: MailKind) -> str:
    return _signer(settings).dumps({"user": user_id, "kind": kind.value})


def read_unsubscribe_token(settings: Settings, token: str) -> tuple[str, MailKind] | None:
    """(user id, kind) from a token this app signed, else None."""
    try:
        data = _signer(settings).loads(token)
        kind = MailKind(data["kind"])
        return (str(data["user"]), kind) if kind in OPTIONAL_KINDS else None
    except (BadSignature, KeyError, TypeError, ValueError):
        return None


def fit_subject(subject: str) -> str:
    """A subject the outbox can hold: user text in it (a school's name, an announcement's title)
    can make it longer, so it is cut at a word with an ellipsis."""
    if len(subject) <= MAX_SUBJECT:
        return subject
    return subject[: MAX_SUBJECT - 1].rsplit(" ", 1)[0].rstrip() + "\u2026"


def render(settings: Settings, kind: MailKind, *, user_id: str | None = None, **context: Any) -> Rendered:
    """Subject, text and HTML of one email; `context` fills the kind's templates."""
    headers: dict[str, str] = {}
    if kind in OPTIONAL_KINDS and user_id is not None:
        token = unsubscribe_token(settings, user_id, kind)
        context["unsubscribe_url"] = f"{settings.app_base_url}/unsubscribe?token={token}"
        one_click = f"{settings.app_base_url}/api/notifications/unsubscribe?token={token}"
        headers = {
            "List-Unsubscribe": f"<{one_click}>",
            "List-Unsubscribe-Post": "List-Unsubscribe=One-Click",
        }
    subject = fit_subject(SUBJECTS[kind].format(**context))
    text = _ENV.get_template(f"{kind.value}.txt").render(subject=subject, **context)
    html = _ENV.get_template(f"{kind.value}.html").render(subject=subject, **context)
    return Rendered(subject, text, html, headers)
