"""Purging what has expired, in small batches so traffic is never locked out.

The command line runs it (``flask idp purge``), committing after each batch: a
long job, not a request.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from sqlalchemy import ColumnElement, delete, or_, select
from sqlalchemy.orm import InstrumentedAttribute

from ..clock import now
from ..extensions import db
from ..models import (
    AuthorizationCode,
    Grant,
    Interaction,
    LoginSession,
    PlaygroundRun,
    RevokedToken,
    UsedLink,
)

BATCH = 1000


def _purge(model: type, key: InstrumentedAttribute[Any],
           condition: ColumnElement[bool]) -> int:
    deleted = 0
    while True:
        ids: Sequence[Any] = db.session.scalars(select(key).where(condition).limit(BATCH)).all()
        if not ids:
            return deleted
        db.session.execute(delete(model).where(key.in_(ids)))
        db.session.commit()
        deleted += len(ids)


def purge() -> dict[str, int]:
    """Delete expired codes, grants (with their used refresh tokens), revoked-token
    entries, used links, interactions, playground runs and login sessions."""
    at = now()
    return {
        "codes": _purge(AuthorizationCode, AuthorizationCode.id,
                        AuthorizationCode.expires_at < at),
        "grants": _purge(Grant, Grant.id, Grant.expires_at < at),
        "revoked tokens": _purge(RevokedToken, RevokedToken.jti, RevokedToken.expires_at < at),
        "used links": _purge(UsedLink, UsedLink.digest, UsedLink.expires_at < at),
        "interactions": _purge(Interaction, Interaction.id, Interaction.expires_at < at),
        "playground runs": _purge(PlaygroundRun, PlaygroundRun.id,
                                  PlaygroundRun.expires_at < at),
        "sessions": _purge(LoginSession, LoginSession.sid,
                           or_(LoginSession.expires_at < at, LoginSession.ended_at.isnot(None))),
    }
