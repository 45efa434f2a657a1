"""/api/auth: sign in, refresh, sign out, profile, password."""

from __future__ import annotations

import hashlib

from flask import Response, after_this_request, request

from backend.auth import auth_bp as bp
from backend.auth import invitations, recovery, service
from backend.auth.access import bearer_token
from backend.auth.schemas import (
    AcceptedOut,
    InvitationAcceptIn,
    LoginIn,
    MeOut,
    PasswordChangeIn,
    PasswordResetConfirmIn,
    PasswordResetIn,
    RefreshIn,
    TokenOut,
    UserOut,
    normalise_email,
)
from backend.auth.tokens import read_access_token
from backend.config import current_settings
from backend.core.api import api
from backend.core.errors import Forbidden, Unauthorized
from backend.core.markers import public, rate_limit
from backend.core.ratelimit import setting_limit
from backend.tenancy import current_caller, requires

REFRESH_COOKIE = "homeroom_refresh"
COOKIE_PATH = "/api/auth"


def _named_account() -> str:
    data = request.get_json(silent=True)
    email = data.get("email") if isinstance(data, dict) else None
    named = normalise_email(email) if isinstance(email, str) else ""
    return hashlib.sha256(named.encode()).hexdigest()[:32]


def login_account_key() -> str:
    """Failed sign-ins count against the account named, whether or not it exists, from anywhere."""
    return "account:" + _named_account()


def login_account_client_key() -> str:
    """...and against that account from this client: an attacker's failures slow the attacker."""
    return f"account:{_named_account()}:ip:{request.remote_addr or 'unknown'}"


def client_ip_key() -> str:
    return f"ip:{request.remote_addr or 'unknown'}"


def _failed(response: Response) -> bool:
    return response.status_code == 401


def _wrong_current_password(response: Response) -> bool:
    body = response.get_json(silent=True) if response.status_code == 422 else None
    errors = body.get("errors", []) if isinstance(body, dict) else []
    return any(error.get("type") == "incorrect_password" for error in errors)


def _client() -> service.Client:
    return service.Client(user_agent=request.user_agent.string, ip_address=request.remote_addr)


def _set_refresh_cookie(token: str) -> None:
    """Send the refresh token as an HttpOnly cookie scoped to /api/auth, with this response."""
    settings = current_settings()

    @after_this_request
    def set_cookie(response: Response) -> Response:
        response.set_cookie(
            REFRESH_COOKIE,
            token,
            max_age=settings.refresh_token_ttl_days * 86400,
            path=COOKIE_PATH,
            httponly=True,
            secure=settings.force_https,
            samesite="Strict",
        )
        return response


def _clear_refresh_cookie() -> None:
    secure = current_settings().force_https

    @after_this_request
    def clear_cookie(response: Response) -> Response:
        response.delete_cookie(
            REFRESH_COOKIE, path=COOKIE_PATH, httponly=True, secure=secure, samesite="Strict"
        )
        return response


def _tokens(tokens: service.IssuedTokens, *, in_body: bool) -> TokenOut:
    """The answer to a sign-in or refresh. Browsers get the refresh token as an HttpOnly cookie;
    other clients, who ask, in the body."""
    if not in_body:
        _set_refresh_cookie(tokens.refresh_token)
    return TokenOut(
        access_token=tokens.access_token,
        expires_in=tokens.expires_in,
        refresh_token=tokens.refresh_token if in_body else None,
        user=UserOut.model_validate(tokens.user),
    )


def _cookie_token() -> str | None:
    """The refresh cookie, accepted only from an allowed origin (a browser always sends Origin)."""
    token = request.cookies.get(REFRESH_COOKIE)
    if token and request.headers.get("Origin") not in current_settings().cors_origins:
        raise Forbidden("Requests with the session cookie must come from an allowed origin.")
    return token


@bp.post("/login")
@public
@rate_limit(setting_limit("login_rate_limit"), key=client_ip_key, deduct_when=_failed)
@rate_limit(setting_limit("login_failure_limit"), key=login_account_client_key, deduct_when=_failed)
@rate_limit(setting_limit("login_account_failure_limit"), key=login_account_key, deduct_when=_failed)
@api(body=LoginIn, response=TokenOut, problems=(401,))
def login(body: LoginIn) -> TokenOut:
    """Sign in: an access token, and the refresh token as a cookie (or in the body if asked)."""
    tokens = service.login(body.email, body.password, _client())
    return _tokens(tokens, in_body=body.return_refresh_token)


@bp.post("/refresh")
@public
@rate_limit(setting_limit("refresh_rate_limit"), key=client_ip_key)
@api(body=RefreshIn, optional_body=True, response=TokenOut, problems=(401, 403))
def refresh(body: RefreshIn) -> TokenOut:
    """Swap the refresh token (cookie, or body for other clients) for new tokens; each works once."""
    token = body.refresh_token or _cookie_token()
    if not token:
        raise Unauthorized("A refresh token is required.")
    return _tokens(service.refresh(token), in_body=body.refresh_token is not None)


@bp.post("/logout")
@public
@api(body=RefreshIn, optional_body=True, status=204, problems=(401, 403))
def logout(body: RefreshIn) -> None:
    """End this session (named by the refresh token, or the access token). Always 204."""
    token = body.refresh_token or _cookie_token()
    if token:
        service.logout(refresh_token=token)
    elif (access := bearer_token()) is not None:
        service.logout(session_id=read_access_token(current_settings(), access).session_id)
    _clear_refresh_cookie()


@bp.post("/logout-all")
@requires("auth.self")
@api(status=204)
def logout_all() -> None:
    """End every session of the signed-in user."""
    service.logout_all(current_caller())
    _clear_refresh_cookie()


@bp.get("/me")
@requires("auth.self")
@api(response=MeOut)
def me() -> MeOut:
    """The signed-in user, their school and role (and a parent's children)."""
    return service.profile(current_caller())


@bp.post("/password")
@requires("auth.self")
@rate_limit(setting_limit("password_change_failure_limit"), deduct_when=_wrong_current_password)
@api(body=PasswordChangeIn, status=204)
def change_password(body: PasswordChangeIn) -> None:
    """Change the password; every other session ends."""
    service.change_password(current_caller(), body.current_password, body.new_password)


@bp.post("/invitations/accept")
@public
@rate_limit(setting_limit("login_rate_limit"), key=client_ip_key, deduct_when=lambda r: r.status_code == 400)
@api(body=InvitationAcceptIn, response=TokenOut, problems=(400,))
def accept_invitation(body: InvitationAcceptIn) -> TokenOut:
    """Choose a password with an invitation's link (it works once) and sign in."""
    return _tokens(invitations.accept(body.token, body.password, _client()), in_body=False)


@bp.post("/password-reset")
@public
@rate_limit(setting_limit("password_reset_rate_limit"), key=client_ip_key)
@rate_limit(setting_limit("password_reset_rate_limit"), key=login_account_key)
@api(body=PasswordResetIn, response=AcceptedOut, status=202, problems=(429,))
def request_password_reset(body: PasswordResetIn) -> AcceptedOut:
    """Email a reset link to the address, if it has an account. The answer is the same either way."""
    recovery.request_reset(body.email, request.remote_addr)
    return AcceptedOut(status="accepted")


@bp.post("/password-reset/confirm")
@public
@rate_limit(setting_limit("login_rate_limit"), key=client_ip_key, deduct_when=lambda r: r.status_code == 400)
@api(body=PasswordResetConfirmIn, status=204, problems=(400,))
def confirm_password_reset(body: PasswordResetConfirmIn) -> None:
    """Set a new password with a reset link (it works once); every session of the user ends."""
    recovery.confirm_reset(body.token, body.password)
