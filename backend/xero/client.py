"""The one client for Xero: OAuth 2.0 through Authlib's client (authorisation URL with PKCE, code
exchange, refresh, revocation) and the accounting API, every call with XERO_TIMEOUT. Both run on
httpx2, the maintained successor of httpx that Authlib asks for.

Xero's answers become one of a few errors the callers act on: `InvalidGrant` (reconnect needed),
`RateLimited` (wait `retry_after`), `Unauthorized` (refresh, then retry), `Rejected` (Xero will
never accept this request as it is) and `Unavailable` (try again later). No token, secret or body
ever goes into an error's message.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

import httpx2 as httpx
from authlib.integrations.httpx_client import OAuth2Client, OAuthError

from backend.config import Settings
from backend.core.models import utcnow

SCOPES = "openid profile email offline_access accounting.transactions accounting.contacts"
ACCOUNTING = "/api.xro/2.0"


class XeroError(Exception):
    """Base of what a call to Xero can end in."""


class InvalidGrant(XeroError):
    """Xero refused the refresh token or code: only a new connect helps."""


class Unauthorized(XeroError):
    """The access token was refused (expired or revoked)."""


class Rejected(XeroError):
    """Xero answered 4xx to this request: sending it again as it is cannot help."""


class Unavailable(XeroError):
    """A timeout, a network error or a 5xx: try again later."""


class Forbidden(Rejected):
    """403: the organisation no longer grants this app access (or a scope is missing)."""


class RateLimited(XeroError):
    def __init__(self, retry_after: float) -> None:
        super().__init__(f"Xero's rate limit: retry after {retry_after:g} s")
        self.retry_after = retry_after


@dataclass(frozen=True)
class TokenSet:
    access_token: str
    refresh_token: str
    expires_at: datetime


def _oauth(settings: Settings) -> OAuth2Client:
    secret = settings.xero_client_secret.get_secret_value() if settings.xero_client_secret else None
    return OAuth2Client(
        client_id=settings.xero_client_id,
        client_secret=secret,
        scope=SCOPES,
        redirect_uri=settings.xero_redirect_uri,
        code_challenge_method="S256",
        timeout=settings.xero_timeout,
    )


def _token_set(token: dict[str, Any]) -> TokenSet:
    try:
        return TokenSet(
            access_token=str(token["access_token"]),
            refresh_token=str(token["refresh_token"]),
            expires_at=utcnow() + timedelta(seconds=int(token.get("expires_in", 1800))),
        )
    except (KeyError, TypeError, ValueError):
        raise Unavailable("Xero's token answer lacked a token") from None


def _token_call(settings: Settings, call: str, **arguments: Any) -> TokenSet:
    """`fetch_token` or `refresh_token` at Xero's token endpoint, its failures classified."""
    url = f"{settings.xero_identity_url}/connect/token"
    try:
        with _oauth(settings) as client:
            return _token_set(getattr(client, call)(url, **arguments))
    except OAuthError as error:
        if error.error == "invalid_grant":  # this school's grant is gone: only a reconnect helps
            raise InvalidGrant("Xero refused the grant (invalid_grant)") from None
        # invalid_client and the like are the server's configuration, not the school's grant:
        # every school would fail alike, so no school is asked to reconnect for it.
        raise Unavailable(
            f"Xero's token endpoint answered {error.error} (check XERO_CLIENT_ID and XERO_CLIENT_SECRET)"
        ) from None
    except httpx.HTTPStatusError as error:
        raise Unavailable(f"Xero's token endpoint answered {error.response.status_code}") from None
    except (httpx.HTTPError, ValueError) as error:
        raise Unavailable(f"Xero's token endpoint could not be reached ({type(error).__name__})") from None


def authorization_url(settings: Settings, state: str, code_verifier: str) -> str:
    with _oauth(settings) as client:
        url, _ = client.create_authorization_url(
            settings.xero_authorize_url, state=state, code_verifier=code_verifier
        )
    return str(url)


def exchange_code(settings: Settings, code: str, code_verifier: str) -> TokenSet:
    return _token_call(
        settings, "fetch_token", grant_type="authorization_code", code=code, code_verifier=code_verifier
    )


def refresh(settings: Settings, refresh_token: str) -> TokenSet:
    return _token_call(settings, "refresh_token", refresh_token=refresh_token)


def revoke(settings: Settings, refresh_token: str) -> None:
    """Revoke the grant at Xero; a failure is raised (the caller decides whether it matters)."""
    url = f"{settings.xero_identity_url}/connect/revocation"
    try:
        with _oauth(settings) as client:
            response = client.revoke_token(url, refresh_token, token_type_hint="refresh_token")  # noqa: S106 - a hint's name
            response.raise_for_status()
    except httpx.HTTPError as error:
        raise Unavailable(f"Xero's revocation endpoint failed ({type(error).__name__})") from None


# --- the API -----------------------------------------------------------------------------------------


def _retry_after(response: httpx.Response) -> float:
    try:
        return max(1.0, float(response.headers.get("Retry-After", "60")))
    except ValueError:
        return 60.0


def _validation_message(response: httpx.Response) -> str:
    """Xero's own words for a 400 (its validation messages), without echoing our request."""
    try:
        body = response.json()
        messages = [
            error["Message"]
            for element in body.get("Elements", [])
            for error in element.get("ValidationErrors", [])
        ]
        return "; ".join(messages) or str(body.get("Message") or body.get("Detail") or "rejected")
    except (ValueError, AttributeError, KeyError, TypeError):
        return "rejected"


def _answer(response: httpx.Response) -> Any:
    status = response.status_code
    if status == 429:
        raise RateLimited(_retry_after(response))
    if status == 401:
        raise Unauthorized("Xero answered 401")
    if status == 403:
        raise Forbidden("Xero answered 403: the organisation does not grant Homeroom access (reconnect it)")
    if 400 <= status < 500:
        raise Rejected(f"Xero answered {status}: {_validation_message(response)}"[:280])
    if status >= 300:
        raise Unavailable(f"Xero answered {status}")
    try:
        return response.json()
    except ValueError:
        raise Unavailable("Xero's answer was not JSON") from None


@dataclass(frozen=True)
class Api:
    """Calls as one organisation (`tenant_id`) with one access token."""

    settings: Settings
    access_token: str
    tenant_id: str | None = None

    def call(self, method: str, path: str, body: Any = None, *, idempotency_key: str | None = None) -> Any:
        headers = {"Authorization": f"Bearer {self.access_token}", "Accept": "application/json"}
        if self.tenant_id:
            headers["xero-tenant-id"] = self.tenant_id
        if idempotency_key:
            headers["Idempotency-Key"] = idempotency_key
        try:
            with httpx.Client(
                base_url=self.settings.xero_api_url, timeout=self.settings.xero_timeout
            ) as http:
                response = http.request(method, path, json=body, headers=headers)
        except httpx.HTTPError as error:
            raise Unavailable(f"Xero could not be reached ({type(error).__name__})") from None
        return _answer(response)

    def connections(self) -> list[dict[str, Any]]:
        answer = self.call("GET", "/connections")
        return [c for c in answer if isinstance(c, dict)] if isinstance(answer, list) else []
