"""Token introspection (RFC 7662).

Rules:
- the caller authenticates as a confidential client (Basic or POST body);
- access and refresh tokens are both understood, ``token_type_hint`` first;
- a client only learns about tokens issued to it: anything else, like an
  unknown, expired, revoked or used token, is just ``{"active": false}``.
"""

from __future__ import annotations

from authlib.oauth2.rfc7662 import IntrospectionEndpoint as _IntrospectionEndpoint
from flask import current_app

from ..models import User, by_key
from . import token_lookup


class IntrospectionEndpoint(_IntrospectionEndpoint):
    CLIENT_AUTH_METHODS = ["client_secret_basic", "client_secret_post"]
    SUPPORTED_TOKEN_TYPES = (token_lookup.ACCESS, token_lookup.REFRESH)

    def check_params(self, request, client):
        token_lookup.check_params(request)

    def query_token(self, token_string, token_type_hint):
        return token_lookup.find(token_string, token_type_hint)

    def check_permission(self, token, client, request):
        return token.check_client(client)

    def introspect_token(self, token: token_lookup.Presented) -> dict:
        row = token.row
        user = by_key(User, row.user_id) if row.user_id else None
        if row.user_id and (user is None or user.disabled):
            return {"active": False}
        access = token.kind == token_lookup.ACCESS
        payload = {
            "active": True,
            "scope": row.scope if access else row.granted_scope,
            "client_id": row.client_id,
            "token_use": token.kind,
            "iss": current_app.config["IDP_ISSUER"],
            "sub": row.user_id or row.client_id,
            "aud": row.client_id,
            "iat": row.issued_at,
            "exp": row.expires_at if access else row.refresh_expires_at,
        }
        if access:
            payload.update(token_type="Bearer", jti=row.jti)  # noqa: S106 - a token type
        if user is not None:
            payload["username"] = user.username
        for claim, value in (("sid", row.sid), ("org_id", row.org_id), ("act", row.actor),
                             ("auth_time", row.auth_time)):
            if value:
                payload[claim] = value
        return payload
