"""Signed links mailed to a person: dated by the application's clock, expiring.

A link carries a small JSON payload, signed with the server's secret key under a
purpose of its own (``salt``), so a link made for one purpose is worthless for
another. Whether it still applies (the password it replaces, the address it
verifies) is for the caller to check against the payload.
"""

from __future__ import annotations

from typing import Any

from flask import current_app
from itsdangerous import BadSignature, SignatureExpired, TimestampSigner, URLSafeTimedSerializer

from ..clock import now


class Expired(ValueError):
    """Signed here, but too long ago."""


class Forged(ValueError):
    """Not signed here for this purpose (or changed on the way)."""


class _Signer(TimestampSigner):
    def get_timestamp(self) -> int:
        return int(now())


def _serializer(purpose: str) -> URLSafeTimedSerializer:
    return URLSafeTimedSerializer(current_app.config["SECRET_KEY"], salt=purpose,
                                  signer=_Signer)


def make(purpose: str, payload: dict[str, Any]) -> str:
    return _serializer(purpose).dumps(payload)


def read(purpose: str, token: str, max_age: int) -> dict[str, Any]:
    """The payload; ``Expired`` or ``Forged`` otherwise."""
    try:
        data = _serializer(purpose).loads(token, max_age=max_age)
    except SignatureExpired:
        raise Expired(purpose) from None
    except BadSignature:
        raise Forged(purpose) from None
    if not isinstance(data, dict):
        raise Forged(purpose)
    return data
