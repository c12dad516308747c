"""Token issuance: JWT access tokens (RFC 9068) and opaque refresh tokens.

Rules:
- access tokens are signed with the client's access-token algorithm (Ed25519
  by default), ``typ: at+jwt``, and carry iss, sub, aud, exp, iat, jti,
  client_id, scope, and sid / org_id / act when there are any;
- every issuance is one ``Token`` row, keyed by ``jti``, so it can be
  introspected and revoked; refresh tokens are stored only as a digest;
- a request may shorten a lifetime, never lengthen it (Webex
  ``accessTokenValiditySeconds`` / ``refreshTokenValiditySeconds``).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from flask import current_app

from ..clock import now
from ..extensions import db
from ..ids import new_ordered_id
from ..models import Client, Token, User
from ..security import opaque
from . import keys


@dataclass
class Context:
    """What a grant knows about the issuance beyond client, user and scope."""

    family_id: str | None = None
    sid: str | None = None
    org_id: str | None = None
    auth_time: int | None = None
    granted_scope: str | None = None  # what a refresh token keeps (RFC 6749 §6)
    actor: dict[str, Any] | None = None
    origin_grant: str | None = None  # the grant that began the family, kept on refresh


def shorter(requested: str | None, configured: int) -> int:
    """The requested value if it is a plain whole number below ``configured``.

    Only ASCII digits count: Python's ``int`` would also take " 60", "6_0" or "٦٠".
    """
    if requested is None or not requested.isascii() or not requested.isdigit():
        return configured
    value = int(requested)
    return value if 0 < value < configured else configured


def issue(
    *,
    client: Client,
    grant_type: str,
    scope: str,
    user: User | None,
    context: Context,
    access_ttl: int,
    refresh_ttl: int | None,
) -> tuple[dict[str, Any], dict[str, Any]]:
    """Build the token response and the values of its ``Token`` row (unsaved)."""
    issued_at = now()
    jti = new_ordered_id()  # time-ordered: the index grows at one end
    claims: dict[str, Any] = {
        "iss": current_app.config["IDP_ISSUER"],
        "sub": user.id if user else client.client_id,
        "aud": client.client_id,
        "exp": issued_at + access_ttl,
        "iat": issued_at,
        "jti": jti,
        "client_id": client.client_id,
        "scope": scope,
    }
    if context.sid:
        claims["sid"] = context.sid
    if context.auth_time:
        claims["auth_time"] = context.auth_time
    if context.org_id:
        claims["org_id"] = context.org_id
    if context.actor:
        claims["act"] = context.actor
    response: dict[str, Any] = {
        "access_token": keys.sign(claims, client.access_token_signed_alg, typ="at+jwt"),
        "token_type": "Bearer",
        "expires_in": access_ttl,
        "scope": scope,
    }
    row = dict(
        jti=jti,
        family_id=context.family_id or new_ordered_id(),
        client_id=client.client_id,
        user_id=user.id if user else None,
        grant_type=grant_type,
        scope=scope,
        granted_scope=context.granted_scope or scope,
        org_id=context.org_id,
        sid=context.sid,
        auth_time=context.auth_time,
        actor=context.actor,
        issued_at=issued_at,
        expires_at=issued_at + access_ttl,
    )
    if refresh_ttl:
        refresh_token = opaque.generate_opaque_token()
        response["refresh_token"] = refresh_token
        row.update(refresh_digest=opaque.digest(refresh_token),
                   refresh_expires_at=issued_at + refresh_ttl)
    return response, row


INSERT = Token.__table__.insert()


def save(row: dict[str, Any]) -> None:
    """Insert the issuance in the current transaction.

    A plain table INSERT with bound parameters: the ORM's unit of work, or
    ``insert(Token).values(...)`` with its per-value coercion and cache key,
    cost more than the rest of a client_credentials request.
    """
    db.session.execute(INSERT, row)
