"""The refresh token grant (RFC 6749 §6) with rotation and reuse detection.

Rules:
- every use rotates: the presented token is claimed atomically
  (``UPDATE … WHERE refresh_used_at IS NULL … RETURNING``) and a new one issued; of two
  concurrent uses exactly one wins;
- presenting a used refresh token again revokes its whole
  family, every access and refresh token descended from the same grant, and
  records ``token.reuse_detected`` (RFC 9700 §4.14.2);
- ``scope`` may only narrow what was originally granted (``invalid_scope``),
  and the new refresh token keeps the original grant (RFC 6749 §6);
- an expired token, another client's token, a disabled user, or a consent
  that no longer covers the grant is ``invalid_grant``;
- public clients refresh with ``none`` authentication (rotation is their
  sender constraint).
"""

from __future__ import annotations

from authlib.oauth2.rfc6749 import grants
from authlib.oauth2.rfc6749.errors import InvalidGrantError
from sqlalchemy import bindparam, select, update

from ...clock import now
from ...extensions import db
from ...models import Client, Token, User, by_key
from ...security import opaque
from ...services import consent, revocation
from .. import tokens
from .base import IssuesTokens, add_id_token, claim

MAX_REFRESH_TOKEN_LENGTH = 512

_tokens = Token.__table__
CLAIM = (
    update(_tokens)
    .where(
        _tokens.c.refresh_digest == bindparam("digest"),
        _tokens.c.client_id == bindparam("client"),
        _tokens.c.refresh_used_at.is_(None),
        _tokens.c.revoked_at.is_(None),
        _tokens.c.refresh_expires_at > bindparam("at"),
    )
    .values(refresh_used_at=bindparam("at"))
    .returning(*_tokens.c)
)


class RefreshTokenGrant(IssuesTokens, grants.RefreshTokenGrant):
    TOKEN_ENDPOINT_AUTH_METHODS = ["client_secret_basic", "client_secret_post", "none"]
    INCLUDE_NEW_REFRESH_TOKEN = True

    def __init__(self, request, server):
        super().__init__(request, server)
        self.register_hook("after_create_token_response", add_id_token)

    def authenticate_refresh_token(self, refresh_token: str) -> Token | None:
        if len(refresh_token) > MAX_REFRESH_TOKEN_LENGTH:
            return None
        client: Client = self.request.client
        digest = opaque.digest(refresh_token)
        claimed = claim(CLAIM, Token, digest=digest, client=client.client_id, at=now())
        if claimed is not None:
            return claimed
        row = db.session.scalar(select(Token).where(Token.refresh_digest == digest))
        if row is not None and row.client_id == client.client_id and row.refresh_used_at:
            # A used refresh token came back: whoever holds the family, it ends here.
            revocation.reuse_detected("refresh_token", family_id=row.family_id,
                                      user_id=row.user_id, client_id=row.client_id)
        return None

    def authenticate_user(self, refresh_token: Token) -> User:
        user = by_key(User, refresh_token.user_id) if refresh_token.user_id else None
        if user is None or user.disabled:
            raise InvalidGrantError("The user of this refresh token is disabled or gone.")
        client: Client = self.request.client
        if (
            refresh_token.grant_type == "authorization_code"
            and not client.skip_consent
            and not consent.covers(user, client, refresh_token.granted_scope)
        ):
            raise InvalidGrantError("The user has withdrawn consent for this application.")
        self.request.token_context = tokens.Context(
            family_id=refresh_token.family_id,
            sid=refresh_token.sid,
            org_id=refresh_token.org_id,
            auth_time=refresh_token.auth_time,
            granted_scope=refresh_token.granted_scope,
            origin_grant=refresh_token.grant_type,
        )
        return user

    def revoke_old_credential(self, refresh_token: Token) -> None:
        """Nothing left to do: the old token was claimed (marked used) atomically."""
