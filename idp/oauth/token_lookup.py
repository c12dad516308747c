"""Finding the token a client presents to introspection or revocation.

An access token is one of our JWTs (looked up by ``jti`` after its signature
checks out, expired or not); a refresh token is looked up by digest. The hint
only decides which is tried first (RFC 7009 §2.1, RFC 7662 §2.1).
"""

from __future__ import annotations

import warnings
from dataclasses import dataclass

from authlib.oauth2.rfc6749.errors import InvalidRequestError, OAuth2Error
from joserfc import jwt
from joserfc.errors import JoseError, SecurityWarning
from sqlalchemy import select

from ..clock import now
from ..extensions import db
from ..models import Token, by_key
from ..security import opaque
from . import keys
from .bearer import ACCESS_TOKEN_ALGS, MAX_TOKEN_LENGTH

ACCESS, REFRESH = "access_token", "refresh_token"


class UnsupportedTokenTypeError(OAuth2Error):
    """RFC 7009 §2.2.1: a 400 (Authlib's class of that name is a 401 without a body text)."""

    error = "unsupported_token_type"


def check_params(request) -> None:
    """Both endpoints: a ``token`` is required; the hint, if any, must be known."""
    if not request.form.get("token"):
        raise InvalidRequestError("Missing 'token'.")
    if request.form.get("token_type_hint") not in (None, ACCESS, REFRESH):
        raise UnsupportedTokenTypeError("'token_type_hint' must be access_token or refresh_token.")


@dataclass
class Presented:
    """A token row and which of its two tokens was presented (Authlib's token protocol)."""

    row: Token
    kind: str

    def check_client(self, client) -> bool:
        return self.row.client_id == client.client_id

    def is_revoked(self) -> bool:
        return self.row.revoked_at is not None or (
            self.kind == REFRESH and self.row.refresh_used_at is not None
        )

    def is_expired(self) -> bool:
        expires = self.row.expires_at if self.kind == ACCESS else self.row.refresh_expires_at
        return expires is None or expires <= now()


def find(token: str, hint: str | None) -> Presented | None:
    if not token or len(token) > MAX_TOKEN_LENGTH:
        return None
    order = (_refresh, _access) if hint == REFRESH else (_access, _refresh)
    for lookup in order:
        if found := lookup(token):
            return found
    return None


def _access(token: str) -> Presented | None:
    if token.count(".") != 2:
        return None
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", SecurityWarning)  # "EdDSA" clients
            claims = jwt.decode(token, keys.verification_keys(), ACCESS_TOKEN_ALGS).claims
    except (JoseError, ValueError, TypeError):
        return None
    jti = claims.get("jti")
    row = by_key(Token, jti) if isinstance(jti, str) else None
    return Presented(row, ACCESS) if row is not None else None


def _refresh(token: str) -> Presented | None:
    row = db.session.scalar(select(Token).where(Token.refresh_digest == opaque.digest(token)))
    return Presented(row, REFRESH) if row is not None else None
