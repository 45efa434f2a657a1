"""Access tokens (JWT, HS256, a key of their own) and refresh tokens (random, stored as a hash)."""

from __future__ import annotations

import base64
import functools
import hashlib
import hmac
import secrets
import time
import uuid
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

import jwt
from cryptography.fernet import Fernet, InvalidToken

from backend.config import Settings
from backend.core.errors import Unauthorized
from backend.tenancy import Role

ALGORITHM = "HS256"
ISSUER = "homeroom"
AUDIENCE = "homeroom-api"
REQUIRED_CLAIMS = ("sub", "sid", "school", "role", "iat", "exp", "jti", "iss", "aud")
INVALID_TOKEN = 'Bearer error="invalid_token"'  # noqa: S105 - a header value, not a secret


@dataclass(frozen=True)
class AccessClaims:
    user_id: uuid.UUID
    session_id: uuid.UUID
    school_id: uuid.UUID | None  # None for operators
    role: Role
    issued_at: datetime


def _key(settings: Settings) -> str:
    assert settings.jwt_secret_key is not None  # validated: always set (generated outside production)
    return settings.jwt_secret_key.get_secret_value()


def issue_access_token(
    settings: Settings,
    *,
    user_id: uuid.UUID,
    session_id: uuid.UUID,
    school_id: uuid.UUID | None,
    role: str,
    now: datetime,
) -> str:
    claims = {
        "sub": str(user_id),
        "sid": str(session_id),
        "school": str(school_id) if school_id else "",  # "" for an operator: no school
        "role": role,
        "iat": int(now.timestamp()),
        "exp": int((now + timedelta(seconds=settings.access_token_ttl_seconds)).timestamp()),
        "jti": uuid.uuid4().hex,
        "iss": ISSUER,
        "aud": AUDIENCE,
    }
    return jwt.encode(claims, _key(settings), algorithm=ALGORITHM)


# Verified tokens kept per worker (about 1 KiB each): a token's signature and claims are checked
# once, then only its expiry. A token cannot change, so its claims stay true until it expires;
# revocation is the session's business (`auth/access.py`), checked on every request.
_VERIFIED_TOKENS = 2048


def read_access_token(settings: Settings, token: str) -> AccessClaims:
    """The verified claims, or a 401: expired, bad signature, wrong algorithm, missing claims."""
    try:
        claims, expires_at = _verified(_key(settings), token)
    except jwt.ExpiredSignatureError:
        raise _invalid("The access token has expired.") from None
    except (jwt.InvalidTokenError, ValueError, TypeError):
        raise _invalid("The access token is invalid.") from None
    if time.time() >= expires_at:  # PyJWT's rule: expired from `exp` on (no leeway)
        raise _invalid("The access token has expired.")
    return claims


@functools.lru_cache(maxsize=_VERIFIED_TOKENS)
def _verified(key: str, token: str) -> tuple[AccessClaims, int]:
    """PyJWT's verdict on `token` under `key`: the claims and `exp`. Only successes are kept."""
    claims = jwt.decode(
        token,
        key,
        algorithms=[ALGORITHM],
        audience=AUDIENCE,
        issuer=ISSUER,
        options={"require": list(REQUIRED_CLAIMS)},
    )
    access = AccessClaims(
        user_id=uuid.UUID(claims["sub"]),
        session_id=uuid.UUID(claims["sid"]),
        school_id=uuid.UUID(claims["school"]) if claims["school"] else None,
        role=Role(claims["role"]),
        issued_at=datetime.fromtimestamp(claims["iat"], UTC),
    )
    return access, int(claims["exp"])


def _invalid(detail: str) -> Unauthorized:
    return Unauthorized(detail, headers={"WWW-Authenticate": INVALID_TOKEN})


def new_secret_token() -> str:
    """256 random bits, URL-safe: refresh tokens, invitation and password-reset links."""
    return secrets.token_urlsafe(32)


def hash_secret_token(token: str) -> str:
    """What is stored of a secret token: its SHA-256 (the token itself only ever travels)."""
    return hashlib.sha256(token.encode()).hexdigest()


# Labels the key a successor is sealed under, so that it differs from the stored SHA-256 of the token.
_SUCCESSOR_KEY_LABEL = b"homeroom refresh successor"


def _successor_key(predecessor: str) -> Fernet:
    digest = hmac.new(_SUCCESSOR_KEY_LABEL, predecessor.encode(), hashlib.sha256).digest()
    return Fernet(base64.urlsafe_b64encode(digest))


def seal_successor(successor: str, *, predecessor: str) -> str:
    """The refresh token that replaced `predecessor`, encrypted under a key derived from
    `predecessor` itself: a repeated refresh with the old token can be answered with the same new
    one, yet the database (even with the app's own keys) yields no usable token without the old
    one, which is never stored."""
    return _successor_key(predecessor).encrypt(successor.encode()).decode()


def open_successor(sealed: str, *, predecessor: str) -> str | None:
    """What `seal_successor` sealed, or None when `predecessor` is not the token it was sealed with."""
    try:
        return _successor_key(predecessor).decrypt(sealed.encode()).decode()
    except InvalidToken:
        return None
