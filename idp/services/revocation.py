"""Revoking tokens: one statement for every reason a token stops being good."""

from __future__ import annotations

from sqlalchemy import update

from ..clock import now
from ..extensions import db
from ..models import Token
from ..transaction import always
from .audit import record


def revoke(*where) -> int:
    """Revoke the still-live tokens matching ``where``; return how many."""
    result = db.session.execute(
        update(Token)
        .where(Token.revoked_at.is_(None), *where)
        .values(revoked_at=now())
        .execution_options(synchronize_session=False)
    )
    return result.rowcount


def reuse_detected(kind: str, *, family_id: str, user_id: str | None, client_id: str) -> None:
    """A used code or refresh token came back: end its family, and say so.

    The caller answers with an error, which rolls its transaction back: the
    revocation is written whatever the answer (``transaction.always``).
    """
    always(lambda: revoke(Token.family_id == family_id))
    record("token.reuse_detected", user_id=user_id, client_id=client_id, kind=kind,
           family_id=family_id)
