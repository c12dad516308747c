"""The refresh token grant (RFC 6749 §6) with rotation and reuse detection.

Rules:
- every use rotates: the presented token is claimed atomically (one
  ``UPDATE grants … WHERE refresh_digest = presented … RETURNING``, which moves
  the grant on to the successor) and filed as used; of two concurrent uses
  exactly one wins;
- presenting a used refresh token again revokes its grant, every access and
  refresh token descended from it, and records ``token.reuse_detected`` (RFC
  9700 §4.14.2), whatever the answer;
- except, when ``IDP_REFRESH_GRACE_SECONDS`` is set (default 0, off), the same
  token presented again by the same client within that many seconds of its
  rotation, while its successor is still the current one, returns the same new
  tokens instead (a retry, or two tabs refreshing at once);
- ``scope`` may only narrow what was originally granted (``invalid_scope``),
  and the new refresh token keeps the original grant (RFC 6749 §6);
- an expired or revoked grant, another client's token, a disabled user, or a
  consent that no longer covers the grant is ``invalid_grant``;
- public clients refresh with ``none`` authentication (rotation is their
  sender constraint).
"""

from __future__ import annotations

from authlib.oauth2.rfc6749 import grants
from authlib.oauth2.rfc6749.errors import InvalidGrantError
from flask import current_app
from sqlalchemy import bindparam, case, update

from ...clock import now
from ...extensions import db
from ...models import Client, Grant, UsedRefreshToken, User, by_key
from ...models.types import table
from ...security import opaque
from ...services import consent
from ...services import grants as grant_rules
from .. import tokens
from .base import IssuesTokens, add_id_token, claim

MAX_REFRESH_TOKEN_LENGTH = 512

_grants = table(Grant)
ROTATE = (
    update(_grants)
    .where(
        _grants.c.refresh_digest == bindparam("digest"),
        _grants.c.client_id == bindparam("client"),
        _grants.c.revoked_at.is_(None),
        _grants.c.refresh_expires_at > bindparam("at"),
    )
    .values(
        refresh_digest=bindparam("successor"),
        refresh_expires_at=bindparam("refresh_expires_at"),
        rotated_at=bindparam("at"),
        expires_at=case((_grants.c.expires_at > bindparam("last_expiry"), _grants.c.expires_at),
                        else_=bindparam("last_expiry")),
    )
    .returning(*_grants.c)
)
FILE_USED = table(UsedRefreshToken).insert()


class RefreshTokenGrant(IssuesTokens, grants.RefreshTokenGrant):
    TOKEN_ENDPOINT_AUTH_METHODS = ["client_secret_basic", "client_secret_post", "none"]
    INCLUDE_NEW_REFRESH_TOKEN = True

    def __init__(self, request, server):
        super().__init__(request, server)
        self.register_hook("after_create_token_response", add_id_token)

    def authenticate_refresh_token(self, refresh_token: str) -> Grant | None:
        if len(refresh_token) > MAX_REFRESH_TOKEN_LENGTH:
            return None
        client: Client = self.request.client
        form = self.request.form
        at = now()
        digest = opaque.digest(refresh_token)
        following = tokens.successor(refresh_token)
        refresh_ttl = tokens.shorter(form.get("refreshTokenValiditySeconds"),
                                     client.refresh_token_ttl)
        access_ttl = tokens.shorter(form.get("accessTokenValiditySeconds"),
                                    client.access_token_ttl)
        rotated = claim(ROTATE, Grant, digest=digest, client=client.client_id, at=at,
                        successor=opaque.digest(following), refresh_expires_at=at + refresh_ttl,
                        last_expiry=at + max(refresh_ttl, access_ttl))
        if rotated is not None:
            db.session.execute(FILE_USED, {"digest": digest, "grant_id": rotated.id,
                                           "used_at": at})
            self._continue(rotated, following, at)
            return rotated
        used = by_key(UsedRefreshToken, digest)
        grant = by_key(Grant, used.grant_id) if used else None
        if used is None or grant is None or grant.client_id != client.client_id:
            return None
        grace = int(current_app.config["IDP_REFRESH_GRACE_SECONDS"])
        if (grace and at - used.used_at <= grace and grant.revoked_at is None
                and grant.refresh_digest == opaque.digest(following)):
            # The same presentation again, soon, before its successor was used: the
            # same new tokens (their successor and the moment of the rotation).
            self._continue(grant, following, grant.rotated_at or at)
            return grant
        # A used refresh token came back: whoever holds the grant, it ends here.
        grant_rules.reuse_detected("refresh_token", grant_id=grant.id, user_id=grant.user_id,
                                  client_id=grant.client_id)
        return None

    def _continue(self, grant: Grant, refresh_token: str, issued_at: int) -> None:
        self.request.token_context = tokens.Context(
            grant_id=grant.id,
            sid=grant.sid,
            org_id=grant.org_id,
            auth_time=grant.auth_time,
            granted_scope=grant.scope,
            resources=grant.resources or [],
            claims_request=grant.claims_request,
            actor=grant.actor,
            origin_grant=grant.grant_type,
            refresh_token=refresh_token,
            issued_at=issued_at,
        )

    def authenticate_user(self, refresh_token: Grant) -> User:
        user = by_key(User, refresh_token.user_id)
        if user is None or user.disabled:
            raise InvalidGrantError("The user of this refresh token is disabled or gone.")
        client: Client = self.request.client
        if (
            refresh_token.grant_type == "authorization_code"
            and not client.skip_consent
            and not consent.covers(user, client, refresh_token.scope)
        ):
            raise InvalidGrantError("The user has withdrawn consent for this application.")
        if not grant_rules.active_grant(refresh_token):
            raise InvalidGrantError()
        return user

    def revoke_old_credential(self, refresh_token: Grant) -> None:
        """Nothing left to do: the old token was claimed (filed as used) atomically."""
