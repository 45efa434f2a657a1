"""/api/me/notifications (a user's choices) and /api/notifications/unsubscribe (the email link)."""

from __future__ import annotations

from typing import Any

from backend.config import current_settings
from backend.core.api import api
from backend.core.markers import public, rate_limit
from backend.core.ratelimit import setting_limit
from backend.notifications import bp
from backend.notifications import service as preferences
from backend.notifications.schemas import NotificationsIn, NotificationsOut, UnsubscribedOut, UnsubscribeQuery
from backend.tenancy import current_caller, requires

# How a mail provider posts RFC 8058's one-click (`List-Unsubscribe=One-Click`); the web app's
# page posts the same URL without a body.
ONE_CLICK_FORM = "application/x-www-form-urlencoded"


@bp.get("/me/notifications")
@requires("auth.self")
@api(response=NotificationsOut)
def my_notifications() -> dict[str, bool]:
    """Which optional emails you receive."""
    return preferences.preferences(current_caller().user_id)


@bp.patch("/me/notifications")
@requires("auth.self")
@api(body=NotificationsIn, response=NotificationsOut)
def change_my_notifications(body: NotificationsIn) -> dict[str, bool]:
    """Turn optional emails on or off."""
    return preferences.update(current_caller(), body.model_dump(exclude_unset=True))


@bp.post("/notifications/unsubscribe")
@public
@rate_limit(setting_limit("login_rate_limit"))
@api(
    query=UnsubscribeQuery,
    body_media_type=ONE_CLICK_FORM,
    optional_body=True,
    response=UnsubscribedOut,
    problems=(400,),
)
def unsubscribe(query: UnsubscribeQuery, body: bytes) -> dict[str, Any]:
    """The one-click unsubscribe of an email's link (signed; no sign-in needed)."""
    kind = preferences.unsubscribe(current_settings(), query.token, body)
    return {"kind": kind.value, "enabled": False}
