"""Opaque credentials (client secrets, codes, refresh tokens): high-entropy random
values stored only as a SHA-256 digest.

A slow KDF protects low-entropy human passwords; a 256-bit random secret needs
none (ASVS 5.0 6.5.2) and a KDF would cap token throughput at a few dozen
requests per second.
"""

import base64
import hashlib
import hmac
import secrets

MIN_SUPPLIED_SECRET_LENGTH = 32


def generate_secret() -> str:
    """Return a new client secret with 256 bits of entropy."""
    return secrets.token_urlsafe(32)


def digest(secret: str) -> str:
    return hashlib.sha256(secret.encode("utf-8")).hexdigest()


def verify(secret: str, stored_digest: str | None) -> bool:
    """Compare in constant time; a client without a digest never matches."""
    if not stored_digest:
        return False
    return hmac.compare_digest(digest(secret), stored_digest)


def generate_opaque_token() -> str:
    """Codes and refresh tokens: 256 bits, URL-safe."""
    return secrets.token_urlsafe(32)


def urlsafe(data: bytes) -> str:
    """Bytes as an opaque token's characters (base64url, no padding)."""
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode("ascii")
