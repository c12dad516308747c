"""Secrets kept at rest encrypted (TOTP secrets, upstream client secrets) and keyed
digests (recovery codes), both with keys derived from the configuration's secret
key, never stored in the database.

Each purpose derives its own key (HKDF-SHA256 with the purpose as ``info``), so a
key for one use opens nothing else. Changing ``IDP_SECRET_KEY`` makes what was
sealed with the old one unreadable (TOTP enrolments must then be made again).
"""

from __future__ import annotations

import base64
import hashlib
import hmac

from cryptography.fernet import Fernet, InvalidToken
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.kdf.hkdf import HKDF
from flask import current_app


class Unsealable(ValueError):
    """Sealed with another key, or tampered with."""


def _key(purpose: str) -> bytes:
    secret = current_app.config["SECRET_KEY"]
    return HKDF(algorithm=hashes.SHA256(), length=32, salt=b"idp sealing",
                info=purpose.encode()).derive(secret.encode())


def seal(purpose: str, plaintext: str) -> str:
    return Fernet(base64.urlsafe_b64encode(_key(purpose))).encrypt(plaintext.encode()).decode()


def unseal(purpose: str, sealed: str) -> str:
    try:
        return Fernet(base64.urlsafe_b64encode(_key(purpose))).decrypt(sealed.encode()).decode()
    except InvalidToken:
        raise Unsealable(purpose) from None


def keyed_digest(purpose: str, value: str) -> str:
    """HMAC-SHA256 with a key from the configuration: a stolen table cannot be searched."""
    return hmac.new(_key(purpose), value.encode(), hashlib.sha256).hexdigest()
