"""/api/integrations/xero/...: connect, callback, status, settings, disconnect, sync (admins) and
the webhook (public: Xero's signature is the credential). Off, with a 404 naming the missing
settings, until XERO_CLIENT_ID, XERO_CLIENT_SECRET, XERO_REDIRECT_URI and XERO_WEBHOOK_KEY are set."""

from __future__ import annotations

from flask import Response, request

from backend.config import current_settings
from backend.core.api import api
from backend.core.markers import public, writes
from backend.tenancy import current_auth, requires
from backend.xero import bp, connecting, service, webhooks
from backend.xero.schemas import CallbackQuery, ConnectOut, DisconnectOut, StatusOut, SyncOut, XeroSettingsIn


@bp.post("/connect")
@requires("integrations.manage")
@api(response=ConnectOut, problems=(404,))
def connect() -> ConnectOut:
    """Start connecting the school's Xero organisation: send the browser to `authorize_url`."""
    settings = current_settings()
    service.require_configured(settings)
    return connecting.start_connect(settings, current_auth())


@bp.get("/callback")
@public
@writes
@api(query=CallbackQuery, response=StatusOut, problems=(400, 404, 409, 502))
def callback(query: CallbackQuery) -> StatusOut:
    """Where Xero sends the admin back (XERO_REDIRECT_URI): the single-use state is the credential."""
    settings = current_settings()
    service.require_configured(settings)
    return connecting.finish_connect(settings, query)


@bp.get("/status")
@requires("integrations.manage")
@api(response=StatusOut, problems=(404,))
def status() -> StatusOut:
    """The connection: state, organisation, last sync, token expiry, the codes used, queued and dead jobs."""
    settings = current_settings()
    service.require_configured(settings)
    return service.status(settings, current_auth())


@bp.patch("/settings")
@requires("integrations.manage")
@api(body=XeroSettingsIn, response=StatusOut, problems=(404,))
def change_settings(body: XeroSettingsIn) -> StatusOut:
    """The school's own sales account, payment account and tax type (null: the server's default)."""
    settings = current_settings()
    service.require_configured(settings)
    return service.update_settings(settings, current_auth(), body)


@bp.post("/disconnect")
@requires("integrations.manage")
@api(response=DisconnectOut, problems=(404, 409))
def disconnect() -> DisconnectOut:
    """Revoke Homeroom's access at Xero and delete the tokens."""
    settings = current_settings()
    service.require_configured(settings)
    return service.disconnect(settings, current_auth())


@bp.post("/sync")
@requires("integrations.manage")
@api(response=SyncOut, status=202, problems=(404, 409))
def sync() -> SyncOut:
    """Queue every issued invoice and payment not in Xero yet (each is sent once)."""
    settings = current_settings()
    service.require_configured(settings)
    return service.sync_all(settings, current_auth())


@bp.post("/webhooks")
@public
@api(body_media_type="application/json", media_type="text/plain", problems=(400, 401, 404))
def webhook(body: bytes) -> Response:
    """Xero's events, signed with XERO_WEBHOOK_KEY: 401 unless the signature matches, else 200."""
    settings = current_settings()
    service.require_configured(settings)
    webhooks.receive(settings, body, request.headers.get("x-xero-signature"))
    return Response(b"", status=200, mimetype="text/plain")
