"""Token introspection (RFC 7662).

Rules:
- the caller authenticates as a confidential client, or as an API with its own
  introspection credentials (RFC 7662 §2.1), by its registered method;
- access and refresh tokens are both understood, ``token_type_hint`` first;
- a client learns only about tokens issued to it, an API only about access
  tokens whose ``aud`` names it: anything else, like an unknown, expired,
  revoked or used token, is just ``{"active": false}`` (RFC 7662 §4);
- a token is active by the same rules as everywhere (``services.grants``).
"""

from __future__ import annotations

from typing import Any

from authlib.oauth2.rfc6749 import OAuth2Request
from authlib.oauth2.rfc6749.authenticate_client import ClientAuthentication
from authlib.oauth2.rfc6749.errors import InvalidClientError
from authlib.oauth2.rfc7662 import IntrospectionEndpoint as _IntrospectionEndpoint
from flask import current_app

from ..models import Client, Grant, User, by_key
from ..services.grants import ActiveToken
from . import resources, token_lookup
from .resources import ApiCaller


class IntrospectionEndpoint(_IntrospectionEndpoint):
    CLIENT_AUTH_METHODS = ["client_secret_basic", "client_secret_post"]
    SUPPORTED_TOKEN_TYPES = (token_lookup.ACCESS, token_lookup.REFRESH)

    def check_params(self, request, client):
        token_lookup.check_params(request)

    def query_token(self, token_string, token_type_hint):
        return token_lookup.find(token_string, token_type_hint)

    def authenticate_endpoint_client(self, request: OAuth2Request) -> Client | ApiCaller:
        try:
            return super().authenticate_endpoint_client(request)
        except InvalidClientError:  # not a client: perhaps an API
            caller = ClientAuthentication(resources.api_caller)(
                request, self.CLIENT_AUTH_METHODS, self.ENDPOINT_NAME)
            request.client = caller
            return caller

    def check_permission(self, token: token_lookup.Presented, client: Client | ApiCaller,
                         request: OAuth2Request) -> bool:
        if isinstance(client, ApiCaller):
            return token.kind == token_lookup.ACCESS and token.claims is not None \
                and client.audience_of(token.claims)
        return token.check_client(client)

    def create_introspection_payload(self, token: token_lookup.Presented | None,
                                     ) -> dict[str, Any]:
        # Whether it is active is decided here, by the rules every endpoint shares.
        return self.introspect_token(token) if token else {"active": False}

    def introspect_token(self, token: token_lookup.Presented) -> dict[str, Any]:
        active = token.is_active(self.server.query_client(token.client_id))
        if active is None:
            return {"active": False}
        if isinstance(active, ActiveToken):
            return _access_token(active)
        return _refresh_token(active)


def _access_token(token: ActiveToken) -> dict[str, Any]:
    claims = token.claims
    payload: dict[str, Any] = {
        "active": True, "scope": claims["scope"], "client_id": claims["client_id"],
        "token_type": "Bearer", "token_use": "access_token",
        "iss": claims["iss"], "sub": claims["sub"], "aud": claims["aud"],
        "iat": claims["iat"], "exp": claims["exp"], "jti": claims["jti"],
    }
    if token.user is not None:
        payload["username"] = token.user.username
    for name in ("sid", "org_id", "act", "auth_time"):
        if claims.get(name):
            payload[name] = claims[name]
    return payload


def _refresh_token(grant: Grant) -> dict[str, Any]:
    user = by_key(User, grant.user_id)
    payload: dict[str, Any] = {
        "active": True, "scope": grant.scope, "client_id": grant.client_id,
        "token_use": "refresh_token", "iss": current_app.config["IDP_ISSUER"],
        "sub": grant.user_id, "aud": grant.client_id, "iat": grant.rotated_at,
        "exp": grant.refresh_expires_at,
    }
    if user is not None:
        payload["username"] = user.username
    for name, value in (("sid", grant.sid), ("org_id", grant.org_id), ("act", grant.actor),
                        ("auth_time", grant.auth_time)):
        if value:
            payload[name] = value
    return payload
