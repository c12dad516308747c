"""Purging what has expired, in small batches so traffic is never locked out."""

from __future__ import annotations

from sqlalchemy import delete, func, or_, select

from ..clock import now
from ..extensions import db
from ..models import AuthorizationCode, LoginSession, Token

BATCH = 1000


def _purge(model, key, condition) -> int:
    deleted = 0
    while True:
        ids = db.session.scalars(select(key).where(condition).limit(BATCH)).all()
        if not ids:
            return deleted
        db.session.execute(delete(model).where(key.in_(ids)))
        db.session.commit()
        deleted += len(ids)


def purge() -> dict[str, int]:
    at = now()
    return {
        "codes": _purge(AuthorizationCode, AuthorizationCode.id,
                        AuthorizationCode.expires_at < at),
        "tokens": _purge(Token, Token.jti,
                         func.coalesce(Token.refresh_expires_at, Token.expires_at) < at),
        "sessions": _purge(LoginSession, LoginSession.sid,
                           or_(LoginSession.expires_at < at, LoginSession.ended_at.isnot(None))),
    }
