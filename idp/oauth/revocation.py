"""Token revocation (RFC 7009).

Rules:
- confidential clients authenticate; public clients name themselves;
- revoking an access token puts its ``jti`` on the revoked list until it
  expires; revoking a refresh token (current or already rotated) revokes its
  grant: every access and refresh token descended from it;
- an unknown, already revoked, or another client's token is still answered
  with 200 and an empty body: the caller learns nothing about it (§2.2).
"""

from __future__ import annotations

from authlib.oauth2.rfc6749 import OAuth2Request
from authlib.oauth2.rfc7009 import RevocationEndpoint as _RevocationEndpoint

from ..services import audit, grants
from . import token_lookup


class RevocationEndpoint(_RevocationEndpoint):
    CLIENT_AUTH_METHODS = ["client_secret_basic", "client_secret_post", "none"]
    SUPPORTED_TOKEN_TYPES = (token_lookup.ACCESS, token_lookup.REFRESH)

    def check_params(self, request, client):
        token_lookup.check_params(request)

    def authenticate_token(self, request, client):
        self.check_params(request, client)
        token = token_lookup.find(request.form["token"], request.form.get("token_type_hint"))
        return token if token is not None and token.check_client(client) else None

    def query_token(self, token_string, token_type_hint):
        return token_lookup.find(token_string, token_type_hint)

    def revoke_token(self, token: token_lookup.Presented, request: OAuth2Request) -> None:
        if token.kind == token_lookup.REFRESH:
            assert token.grant is not None
            grants.revoke_grant(token.grant.id)
            audit.record("token.revoked", user_id=token.grant.user_id, client_id=token.client_id,
                         kind=token.kind, grant_id=token.grant.id)
            return
        assert token.claims is not None
        grants.revoke_access_token(token.claims["jti"], token.claims["exp"])
        audit.record("token.revoked", user_id=token.claims.get("sub")
                     if token.claims.get("grant_id") else None, client_id=token.client_id,
                     kind=token.kind, jti=token.claims["jti"])
