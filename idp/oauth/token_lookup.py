"""Finding the token a client presents to introspection or revocation.

An access token is one of our JWTs, its signature checked (expired or not); a
refresh token is looked up by digest, among current and used ones. The hint
only decides which is tried first (RFC 7009 §2.1, RFC 7662 §2.1).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from authlib.oauth2.rfc6749 import OAuth2Request
from authlib.oauth2.rfc6749.errors import InvalidRequestError, OAuth2Error
from sqlalchemy import select

from ..clock import now
from ..extensions import db
from ..models import Client, Grant, UsedRefreshToken, by_key
from ..security import opaque
from ..services import grants
from .bearer import MAX_TOKEN_LENGTH, decode_access_token

ACCESS, REFRESH = "access_token", "refresh_token"


class UnsupportedTokenTypeError(OAuth2Error):
    """RFC 7009 §2.2.1: a 400 (Authlib's class of that name is a 401 without a body text)."""

    error = "unsupported_token_type"


def check_params(request: OAuth2Request) -> None:
    """Both endpoints: a ``token`` is required; the hint, if any, must be known."""
    if not request.form.get("token"):
        raise InvalidRequestError("Missing 'token'.")
    if request.form.get("token_type_hint") not in (None, ACCESS, REFRESH):
        raise UnsupportedTokenTypeError("'token_type_hint' must be access_token or refresh_token.")


@dataclass
class Presented:
    """A token presented to us: an access token's claims, or a refresh token's grant.

    ``current`` is false for a refresh token that was rotated away (it is still
    its grant's, for revocation, but never active)."""

    kind: str
    client_id: str
    claims: dict[str, Any] | None = None
    grant: Grant | None = None
    current: bool = True

    def check_client(self, client: Client) -> bool:
        return self.client_id == client.client_id

    def is_active(self, client: Client | None) -> grants.ActiveToken | Grant | None:
        """The access token's active state, or the refresh token's live grant."""
        at = now()
        if self.kind == ACCESS:
            assert self.claims is not None
            if self.claims.get("exp", 0) <= at:
                return None
            return grants.active_access_token(self.claims, client, at)
        grant = self.grant
        if (grant is None or not self.current or client is None or client.disabled
                or (grant.refresh_expires_at or 0) <= at or not grants.active_grant(grant, at)):
            return None
        return grant


def find(token: str, hint: str | None) -> Presented | None:
    if not token or len(token) > MAX_TOKEN_LENGTH:
        return None
    order = (_refresh, _access) if hint == REFRESH else (_access, _refresh)
    for lookup in order:
        if found := lookup(token):
            return found
    return None


def _access(token: str) -> Presented | None:
    claims = decode_access_token(token, expired=True)
    return Presented(ACCESS, claims["client_id"], claims=claims) if claims else None


def _refresh(token: str) -> Presented | None:
    digest = opaque.digest(token)
    grant = db.session.scalar(select(Grant).where(Grant.refresh_digest == digest))
    if grant is not None:
        return Presented(REFRESH, grant.client_id, grant=grant)
    used = by_key(UsedRefreshToken, digest)
    grant = by_key(Grant, used.grant_id) if used else None
    if grant is not None:
        return Presented(REFRESH, grant.client_id, grant=grant, current=False)
    return None
