"""Token revocation (RFC 7009).

Rules:
- confidential clients authenticate; public clients name themselves;
- revoking an access token revokes that issuance; revoking a refresh token
  revokes its whole family, every access token descended from the grant;
- an unknown, already revoked, or another client's token is still answered
  with 200 and an empty body: the caller learns nothing about it (§2.2).
"""

from __future__ import annotations

from authlib.oauth2.rfc7009 import RevocationEndpoint as _RevocationEndpoint

from ..models import Token
from ..services import audit, revocation
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

    def revoke_token(self, token: token_lookup.Presented, request) -> None:
        row = token.row
        revocation.revoke(Token.family_id == row.family_id if token.kind == token_lookup.REFRESH
                          else Token.jti == row.jti)
        audit.record("token.revoked", user_id=row.user_id, client_id=row.client_id,
                     kind=token.kind, family_id=row.family_id)
