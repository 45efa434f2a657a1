"""Encryption at rest: a MultiFernet from ENCRYPTION_KEYS and column types that use it.

The first key encrypts; every key decrypts, so a new key can be put first, `flask crypto rotate`
run, and the old key removed. The database only ever holds Fernet tokens for these columns.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Any

import structlog
from cryptography.fernet import Fernet, InvalidToken, MultiFernet
from flask import Flask, current_app
from sqlalchemy import Dialect, Text, TypeDecorator

from backend.config import Settings

log = structlog.get_logger("homeroom.crypto")
CRYPTO_EXTENSION = "homeroom.crypto"


class DecryptionError(RuntimeError):
    """A stored value cannot be read with any configured key (a key was removed too early)."""


def init_crypto(app: Flask, settings: Settings) -> None:
    keys = [key.get_secret_value() for key in settings.encryption_keys]
    if not keys:
        keys = [Fernet.generate_key().decode()]
        log.warning(
            "encryption_key_ephemeral",
            effect="encrypted data written now is unreadable after a restart",
            fix="set ENCRYPTION_KEYS (start_production.sh writes one into .env)",
        )
    fernets = [Fernet(key) for key in keys]
    app.extensions[CRYPTO_EXTENSION] = Keys(MultiFernet(fernets), fernets[0])


@dataclass(frozen=True)
class Keys:
    all: MultiFernet  # decrypts with any key, encrypts with the first
    primary: Fernet  # the first key alone


def current_keys() -> Keys:
    keys: Keys = current_app.extensions[CRYPTO_EXTENSION]
    return keys


def under_primary_key(token: str) -> bool:
    """Whether the first (encrypting) key alone can read `token`: rotation skips those."""
    try:
        current_keys().primary.decrypt(token.encode())
    except InvalidToken:
        return False
    return True


def rotate_token(token: str) -> str:
    """The same plaintext, encrypted again under the first key."""
    return current_keys().all.rotate(token.encode()).decode()


def encrypt(plaintext: str) -> str:
    return current_keys().all.encrypt(plaintext.encode()).decode()


def decrypt(token: str) -> str:
    try:
        return current_keys().all.decrypt(token.encode()).decode()
    except InvalidToken:
        raise DecryptionError("an encrypted value cannot be read with the configured keys") from None


class EncryptedText(TypeDecorator[str]):
    """Text stored as a Fernet token."""

    impl = Text
    cache_ok = True

    def process_bind_param(self, value: str | None, dialect: Dialect) -> str | None:
        return None if value is None else encrypt(value)

    def process_result_value(self, value: str | None, dialect: Dialect) -> str | None:
        return None if value is None else decrypt(value)


class EncryptedJSON(TypeDecorator[Any]):
    """A JSON value stored as a Fernet token."""

    impl = Text
    cache_ok = True

    def process_bind_param(self, value: Any, dialect: Dialect) -> str | None:
        return None if value is None else encrypt(json.dumps(value, separators=(",", ":")))

    def process_result_value(self, value: str | None, dialect: Dialect) -> Any:
        return None if value is None else json.loads(decrypt(value))


ENCRYPTED_TYPES = (EncryptedText, EncryptedJSON)
