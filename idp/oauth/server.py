"""The Authlib authorization server and what is registered on it.

Rules enforced here rather than in a grant:
- error responses are RFC 6749 JSON with ``Cache-Control: no-store``;
  ``invalid_client`` is always 401, with ``WWW-Authenticate: Basic`` when the
  client tried Basic authentication;
- authorization errors that may redirect go out in the requested response
  mode with ``iss``; the view decides which may not (unknown client, bad
  redirect URI).
"""

from __future__ import annotations

import time

from authlib.integrations.flask_oauth2 import AuthorizationServer as _FlaskServer
from authlib.oauth2.rfc6749.errors import InvalidClientError
from flask import Flask, current_app
from flask import request as flask_request

from ..extensions import db
from ..models import Client
from . import response_modes, tokens
from .adapter import TokenRequest
from .claims import SCOPES_SUPPORTED
from .end_session import EndSessionEndpoint
from .grants.authorization_code import AuthorizationCodeGrant, OpenIDCode
from .grants.client_credentials import ClientCredentialsGrant
from .grants.password import PasswordGrant
from .grants.refresh_token import RefreshTokenGrant
from .grants.token_exchange import ClientDelegateGrant, TokenExchangeGrant
from .introspection import IntrospectionEndpoint
from .pkce import PKCE
from .revocation import RevocationEndpoint

DEFAULT_DESCRIPTIONS = {
    "unsupported_grant_type": "This grant_type is not supported; see grant_types_supported.",
    "invalid_scope": "The requested scope is not allowed for this client.",
    "invalid_client": "Client authentication failed.",
    "invalid_grant": "The grant is invalid, expired, or was already used.",
    "access_denied": "The request was denied.",
    "unsupported_response_type": "Only response_type=code is supported.",
    "login_required": "The user must sign in, which prompt=none does not allow.",
    "consent_required": "The user must consent, which prompt=none does not allow.",
    "account_selection_required": "The user must choose an organization, which prompt=none "
    "does not allow.",
}


class AuthorizationServer(_FlaskServer):
    clients: ClientCache
    https_issuer: bool = True

    def create_oauth2_request(self, request):
        # Authlib's Flask server wraps the current Flask request, whatever it is given.
        return TokenRequest(flask_request, https_issuer=self.https_issuer)

    def query_client(self, client_id):
        if not isinstance(client_id, str) or len(client_id) > 128:
            return None
        client = self.clients.get(client_id)
        return None if client is None or client.disabled else client  # a disabled one is unknown

    def save_token(self, token, request):
        tokens.save(request.issued_token)

    def handle_error_response(self, request, error):
        if not error.description:
            error.description = DEFAULT_DESCRIPTIONS.get(error.error, "The request failed.")
        if error.redirect_uri:
            params = error.get_body()
            mode = response_modes.requested_mode(request.payload.data)
            client = getattr(request, "client", None)
            return self.handle_response(*response_modes.build(
                error.redirect_uri, params, mode, client.name if client else None))
        if isinstance(error, InvalidClientError):
            error.status_code = 401
            # One answer whatever went wrong: unknown client, wrong secret, wrong method.
            error.description = DEFAULT_DESCRIPTIONS["invalid_client"]
            if "authorization" not in flask_request.headers:
                status, body, headers = error()
                headers = [h for h in headers if h[0] != "WWW-Authenticate"]
                return self.handle_response(status, body, headers)
        return super().handle_error_response(request, error)

    def validate_requested_scope(self, scope):
        # Which scopes a client may have is the client's business
        # (Client.get_allowed_scope); nothing server-wide to check.
        return None


# The token endpoint's grants (discovery lists them), the code grant first.
TOKEN_GRANTS = (AuthorizationCodeGrant, RefreshTokenGrant, PasswordGrant, ClientCredentialsGrant,
                TokenExchangeGrant, ClientDelegateGrant)


class ClientCache:
    """Client registrations by id, kept ``ttl`` seconds per process.

    Clients change rarely and are read on every token request; the cached rows
    are detached, read-only snapshots. Unknown ids are not cached.
    """

    def __init__(self, ttl: float) -> None:
        self.ttl = ttl
        self._rows: dict[str, tuple[float, Client]] = {}

    def cached(self, client_id: str) -> Client | None:
        """The cached row if it is still fresh; None means "ask ``get``"."""
        if (hit := self._rows.get(client_id)) and hit[0] > time.monotonic():
            return hit[1]
        return None

    def get(self, client_id: str) -> Client | None:
        if self.ttl > 0 and (client := self.cached(client_id)):
            return client
        client = db.session.get(Client, client_id)
        if client is not None and self.ttl > 0:
            db.session.expunge(client)
            self._rows[client_id] = (time.monotonic() + self.ttl, client)
        return client

    def forget(self, client_id: str) -> None:
        """A registration changed here: read it again next time."""
        self._rows.pop(client_id, None)

    def clear(self) -> None:
        self._rows.clear()


def init_app(app: Flask) -> None:
    server = AuthorizationServer()
    server.clients = ClientCache(float(app.config["IDP_CLIENT_CACHE_SECONDS"]))
    server.https_issuer = app.config["IDP_ISSUER"].startswith("https://")
    server.init_app(app)
    server.scopes_supported = list(SCOPES_SUPPORTED)
    server.register_grant(AuthorizationCodeGrant, [PKCE(required=True), OpenIDCode()])
    for grant in TOKEN_GRANTS[1:]:
        server.register_grant(grant)
    server.register_endpoint(IntrospectionEndpoint)
    server.register_endpoint(RevocationEndpoint)
    server.register_endpoint(EndSessionEndpoint)
    app.extensions["idp.oauth"] = server


def current_server() -> AuthorizationServer:
    return current_app.extensions["idp.oauth"]
