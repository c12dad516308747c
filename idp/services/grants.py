"""Whether a token is still good, and revoking what tokens hang on.

Access tokens are self-contained: nothing is written when one is issued, so
what makes one stop being good is recorded where it hangs (``models.grants``).

Rules:
- a user's access token is active while its grant is not revoked and has not
  expired, its user and client are enabled, and its ``jti`` is not on the
  revoked list; a service's (client_credentials) while its client is enabled
  and its ``jti`` is not revoked (its signature and ``exp`` are checked first,
  by whoever decoded it);
- revoking a grant revokes every grant derived from it by token exchange;
- ending a login session revokes the grants bound to it, but those granted
  ``offline_access`` (OIDC Core §11);
- withdrawing consent revokes the user's grants at that client; a password
  change every grant of the user but the changing session's;
- revoking one access token (RFC 7009) puts its ``jti`` on the list until it
  would have expired.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any

from sqlalchemy import bindparam, select, update

from ..clock import now
from ..extensions import db
from ..models import Client, Grant, RevokedToken, User, by_key
from ..models.types import rowcount
from ..transaction import always
from .audit import record

# One statement for the busiest check: the grant and its user, by the grant's id.
GRANT_AND_USER = (
    select(Grant, User)
    .join(User, User.id == Grant.user_id)
    .where(Grant.id == bindparam("grant_id"))
)


@dataclass
class ActiveToken:
    """An access token that is still good: its claims, and what it hangs on."""

    claims: dict[str, Any]
    client: Client
    user: User | None
    grant: Grant | None

    @property
    def scope(self) -> str:
        return self.claims.get("scope", "")

    @property
    def org_id(self) -> str | None:
        return self.claims.get("org_id")

    @property
    def user_id(self) -> str | None:
        return self.user.id if self.user else None


def active_access_token(claims: dict[str, Any], client: Client | None,
                        at: int | None = None) -> ActiveToken | None:
    """The token these verified claims describe, if it is still good (rules above)."""
    at = at or now()
    if client is None or client.disabled or client.client_id != claims.get("client_id"):
        return None
    if is_revoked(claims["jti"]):
        return None
    grant_id = claims.get("grant_id")
    if grant_id is None:
        return ActiveToken(claims, client, None, None) if claims.get("sub") == client.client_id \
            else None
    row = db.session.execute(GRANT_AND_USER, {"grant_id": grant_id}).first()
    if row is None:
        return None
    grant, user = row
    if grant.revoked_at is not None or grant.expires_at <= at or user.disabled:
        return None
    if grant.client_id != client.client_id:
        return None
    return ActiveToken(claims, client, user, grant)


def active_grant(grant: Grant, at: int | None = None) -> bool:
    """A grant still issuing tokens: not revoked, not expired, its user enabled."""
    if grant.revoked_at is not None or grant.expires_at <= (at or now()):
        return False
    user = by_key(User, grant.user_id)
    return user is not None and not user.disabled


def is_revoked(jti: str) -> bool:
    return by_key(RevokedToken, jti) is not None


def revoke_access_token(jti: str, expires_at: int) -> None:
    """Put one access token on the revoked list until it would expire (RFC 7009)."""
    if not is_revoked(jti):
        db.session.add(RevokedToken(jti=jti, expires_at=expires_at))


def revoke(*where: Any) -> int:
    """Revoke the live grants matching ``where``, and every grant derived from them;
    return how many."""
    ids = list(db.session.scalars(select(Grant.id).where(Grant.revoked_at.is_(None), *where)))
    return _revoke_with_descendants(ids)


def _revoke_with_descendants(ids: Iterable[str]) -> int:
    at = now()
    total = 0
    pending = list(ids)
    while pending:
        total += rowcount(db.session.execute(
            update(Grant).where(Grant.id.in_(pending), Grant.revoked_at.is_(None))
            .values(revoked_at=at).execution_options(synchronize_session=False)
        ))
        pending = list(db.session.scalars(
            select(Grant.id).where(Grant.parent_id.in_(pending), Grant.revoked_at.is_(None))))
    return total


def revoke_grant(grant_id: str) -> int:
    return revoke(Grant.id == grant_id)


def reuse_detected(kind: str, *, grant_id: str, user_id: str | None, client_id: str) -> None:
    """A used code or refresh token came back: end its grant, and say so.

    The caller answers with an error, which rolls its transaction back: the
    revocation is written whatever the answer (``transaction.always``).
    """
    always(lambda: revoke_grant(grant_id))
    record("token.reuse_detected", user_id=user_id, client_id=client_id, kind=kind,
           grant_id=grant_id)


def end_of_session(sid: str) -> int:
    """A login session ended: its grants go, but those granted ``offline_access``."""
    return revoke(Grant.sid == sid, Grant.offline.is_(False))


def of_user_at_client(user_id: str, client_id: str) -> int:
    return revoke(Grant.user_id == user_id, Grant.client_id == client_id)


def all_of_user(user_id: str, *, but_sid: str | None = None) -> int:
    """Every grant of the user, but those of the session ``but_sid`` (a password change)."""
    where = [Grant.user_id == user_id]
    if but_sid:
        where.append((Grant.sid.is_(None)) | (Grant.sid != but_sid))
    return revoke(*where)


def acting_for(user_id: str) -> list[tuple[Grant, Client, Client | None]]:
    """The applications acting for the user through a token exchange, still live: the
    derived grant, the acting client, and the client whose token it was exchanged for."""
    at = now()
    rows = db.session.execute(
        select(Grant, Client)
        .join(Client, Client.client_id == Grant.client_id)
        .where(Grant.user_id == user_id, Grant.parent_id.is_not(None),
               Grant.revoked_at.is_(None), Grant.expires_at > at)
        .order_by(Grant.created_at.desc())
    ).all()
    found = []
    for grant, actor in rows:
        parent = by_key(Grant, grant.parent_id)
        subject = by_key(Client, parent.client_id) if parent else None
        found.append((grant, actor, subject))
    return found
