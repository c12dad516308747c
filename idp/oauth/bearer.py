"""Bearer access tokens presented to us (UserInfo), RFC 6750 and RFC 9068.

Rules:
- the token comes from the ``Authorization: Bearer`` header, or from an
  ``access_token`` field of a form-encoded POST body (RFC 6750 §2.2), never
  from both;
- it must be a JWT we signed (``typ: at+jwt``, our issuer, an allowed
  algorithm, a key in our JWKS), unexpired, and still active
  (``services.grants``: its grant, user and client, its ``jti`` not revoked);
- failures are 401 ``invalid_token`` with ``WWW-Authenticate: Bearer``;
  a missing scope is 403 ``insufficient_scope``.
"""

from __future__ import annotations

import warnings
from typing import Any

from authlib.integrations.flask_oauth2 import ResourceProtector as _ResourceProtector
from authlib.oauth2.rfc6749.errors import InvalidRequestError
from authlib.oauth2.rfc6750 import BearerTokenValidator, InsufficientScopeError, InvalidTokenError
from flask import current_app
from flask import request as flask_request
from joserfc import jwt
from joserfc.errors import JoseError, SecurityWarning

from ..clock import now
from ..services import grants
from . import keys

ACCESS_TOKEN_ALGS = ["Ed25519", "EdDSA", "RS256", "ES256"]
MAX_TOKEN_LENGTH = 8192


def decode_access_token(token_string: str, *, expired: bool = False,
                        ) -> dict[str, Any] | None:
    """Verified claims of one of our access tokens (an expired one too with
    ``expired``), or None."""
    if not token_string or len(token_string) > MAX_TOKEN_LENGTH or token_string.count(".") != 2:
        return None
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", SecurityWarning)  # "EdDSA" clients
            decoded = jwt.decode(token_string, keys.verification_keys(), ACCESS_TOKEN_ALGS)
    except (JoseError, ValueError, TypeError):
        return None
    claims = decoded.claims
    if decoded.header.get("typ") != "at+jwt":
        return None
    if claims.get("iss") != current_app.config["IDP_ISSUER"]:
        return None
    exp = claims.get("exp")
    if not isinstance(exp, int) or (exp <= now() and not expired):
        return None
    if not isinstance(claims.get("jti"), str) or not isinstance(claims.get("client_id"), str):
        return None
    return claims


class AccessTokenValidator(BearerTokenValidator):
    def authenticate_token(self, token_string):
        claims = decode_access_token(token_string)
        if claims is None:
            return None
        from .server import current_server

        return grants.active_access_token(
            claims, current_server().query_client(claims.get("client_id")))

    def validate_token(self, token, scopes, request):
        if token is None:
            raise InvalidTokenError()
        if self.scope_insufficient(token.scope, scopes):
            raise InsufficientScopeError()


class ResourceProtector(_ResourceProtector):
    def parse_request_authorization(self, request):
        header = flask_request.headers.get("Authorization")
        body_token = None
        if flask_request.method == "POST" and flask_request.mimetype == (
            "application/x-www-form-urlencoded"
        ):
            body_token = flask_request.form.get("access_token")
        if header and body_token:
            raise InvalidRequestError("Send the access token one way only.")
        if body_token:
            return self.get_token_validator("bearer"), body_token
        if not header:
            raise InvalidTokenError("No access token was sent.")
        scheme, _, token_string = header.partition(" ")
        if scheme.lower() != "bearer" or not token_string.strip():
            raise InvalidTokenError("Use the 'Bearer' authorization scheme.")
        return self.get_token_validator("bearer"), token_string.strip()


protector = ResourceProtector()
protector.register_token_validator(AccessTokenValidator())
