"""Errors to Sentry, when SENTRY_DSN is set: the Flask integration, the environment and release, no
default PII, and a scrubber over every event and breadcrumb.

The scrubber removes authorization headers, cookies, request bodies and query strings, and any
value under a key that names a credential, a contact or health data, and masks email addresses
wherever they appear (messages, exception values, breadcrumbs); a database error is sent as its
description, without the values of its statement (`core/logging.py: without_values`). Without a
DSN sentry_sdk is not even imported.
"""

from __future__ import annotations

import re
import sys
from typing import Any

from flask import Flask

from backend.config import Settings
from backend.core.context import current_request_id
from backend.core.logging import without_values

REDACTED = "[Filtered]"
# Keys whose values never leave: credentials, contacts, and every health-record field.
SENSITIVE_KEY = re.compile(
    r"authorization|cookie|password|passwd|secret|token|api_?key|session|csrf|email|phone|"
    r"health|allerg|medic|condition|blood|physician|diagnos|notes|alerts|dsn",
    re.I,
)
EMAIL = re.compile(r"[A-Za-z0-9._%+-]+@[A-Za-z0-9.-]+\.[A-Za-z]{2,}")
BEARER = re.compile(r"(?i)bearer\s+[A-Za-z0-9._~+/=-]+")
JWT = re.compile(r"eyJ[A-Za-z0-9_-]+\.[A-Za-z0-9_-]+\.[A-Za-z0-9_-]*")
# "token=...", "password: ...", "secret abc" inside free text (messages, exception values).
NAMED_SECRET = re.compile(r"(?i)\b(token|password|passwd|secret|api_?key)\b([=:\s]+)[^\s&,;]+")
_DROPPED_REQUEST_PARTS = ("data", "cookies", "query_string", "env")


def scrub(value: Any) -> Any:
    """`value` with sensitive keys' values replaced and emails and bearer tokens masked, recursively."""
    if isinstance(value, dict):
        return {
            key: REDACTED if SENSITIVE_KEY.search(str(key)) else scrub(item) for key, item in value.items()
        }
    if isinstance(value, list | tuple):
        return [scrub(item) for item in value]
    if isinstance(value, str):
        value = BEARER.sub("Bearer [Filtered]", value)
        value = NAMED_SECRET.sub(lambda m: f"{m.group(1)}{m.group(2)}{REDACTED}", JWT.sub(REDACTED, value))
        return EMAIL.sub("[email]", value)
    return value


def scrub_event(event: dict[str, Any], _hint: Any = None) -> dict[str, Any]:
    request = event.get("request")
    if isinstance(request, dict):
        for part in _DROPPED_REQUEST_PARTS:
            request.pop(part, None)
        if "url" in request:
            request["url"] = str(request["url"]).split("?", 1)[0]
    user = event.get("user")
    if isinstance(user, dict):  # keep only an opaque id
        event["user"] = {"id": user["id"]} if "id" in user else {}
    scrubbed: dict[str, Any] = scrub(event)
    request_id = current_request_id()
    if request_id is not None:
        scrubbed.setdefault("tags", {})["request_id"] = request_id
    return scrubbed


def scrub_breadcrumb(crumb: dict[str, Any], _hint: Any = None) -> dict[str, Any]:
    result: dict[str, Any] = scrub(crumb)
    return result


def capture(error: BaseException) -> None:
    """Send an unexpected error (the 500 handler calls this); nothing without SENTRY_DSN."""
    if "sentry_sdk" not in sys.modules:
        return
    import sentry_sdk

    if sentry_sdk.get_client().is_active():
        sentry_sdk.capture_exception(without_values(error))  # a database error's values stay here


def init_error_tracking(app: Flask, settings: Settings) -> None:
    """Start Sentry for this process when SENTRY_DSN is set (else nothing is imported)."""
    if settings.sentry_dsn is None:
        return
    import sentry_sdk
    from sentry_sdk.integrations.flask import FlaskIntegration
    from sentry_sdk.integrations.logging import LoggingIntegration

    from backend.version import __version__

    sentry_sdk.init(
        dsn=settings.sentry_dsn.get_secret_value(),
        # Errors are sent once, by `capture` in the 500 handler; log lines are breadcrumbs only.
        integrations=[FlaskIntegration(), LoggingIntegration(event_level=None)],
        environment=settings.app_env,
        release=f"homeroom@{__version__}",
        # No default PII (the SDK's default; the option itself is deprecated in this release).
        include_local_variables=False,  # a frame's locals hold request bodies
        max_request_body_size="never",
        traces_sample_rate=settings.sentry_traces_sample_rate,
        before_send=scrub_event,  # type: ignore[arg-type]  # Event is a TypedDict of the same dict
        before_breadcrumb=scrub_breadcrumb,
    )
