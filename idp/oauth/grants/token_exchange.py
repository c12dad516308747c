"""Delegation: RFC 8693 token exchange and Webex's ``client_delegate``.

The calling client presents a user's access token and receives a token for
that user, naming itself as the actor. Authlib has no token exchange, so this
grant is written on its ``BaseGrant``.

Rules:
- only for clients created with the grant (``unauthorized_client``);
- ``subject_token`` is required and ``subject_token_type`` must be
  ``urn:ietf:params:oauth:token-type:access_token`` (``invalid_request``);
- the subject token must be one of our access tokens, for a user, unexpired
  and not revoked; anything else (expired, revoked, foreign, malformed, a
  client's own token) is ``invalid_grant``;
- the scope is no wider than the subject token's (``invalid_scope``); when
  omitted, the subject's scopes the calling client may have;
- the new token carries ``act: {"sub": <calling client>}``, nesting any
  earlier actor (RFC 8693 §4.1); no refresh token; the response names
  ``issued_token_type``.
"""

from __future__ import annotations

from authlib.oauth2.rfc6749 import BaseGrant, TokenEndpointMixin
from authlib.oauth2.rfc6749.errors import (
    InvalidGrantError,
    InvalidRequestError,
    InvalidScopeError,
    UnauthorizedClientError,
)
from authlib.oauth2.rfc6749.hooks import hooked

from ...models import Token, User, by_key
from .. import tokens
from ..bearer import decode_access_token
from .base import IssuesTokens

ACCESS_TOKEN_TYPE = "urn:ietf:params:oauth:token-type:access_token"  # noqa: S105 - a URN


class TokenExchangeGrant(IssuesTokens, BaseGrant, TokenEndpointMixin):
    GRANT_TYPE = "urn:ietf:params:oauth:grant-type:token-exchange"
    TOKEN_ENDPOINT_AUTH_METHODS = ["client_secret_basic", "client_secret_post"]

    def validate_token_request(self):
        client = self.authenticate_token_endpoint_client()
        if not client.check_grant_type(self.GRANT_TYPE):
            raise UnauthorizedClientError(
                f"The client is not authorized to use 'grant_type={self.GRANT_TYPE}'."
            )
        self.request.client = client
        form = self.request.form
        subject_token = form.get("subject_token")
        if not subject_token:
            raise InvalidRequestError("Missing 'subject_token'.")
        if form.get("subject_token_type") != ACCESS_TOKEN_TYPE:
            raise InvalidRequestError(f"'subject_token_type' must be '{ACCESS_TOKEN_TYPE}'.")
        if form.get("requested_token_type") not in (None, ACCESS_TOKEN_TYPE):
            raise InvalidRequestError("Only access tokens can be issued.")
        if form.get("actor_token"):
            raise InvalidRequestError("'actor_token' is not supported; the client is the actor.")

        subject = self._subject(subject_token)
        user = by_key(User, subject.user_id)
        if user is None or user.disabled:
            raise InvalidGrantError("The subject token's user is disabled or gone.")

        granted = set(subject.scope.split())
        if requested := self.request.payload.scope:
            if not set(requested.split()) <= granted:
                raise InvalidScopeError("The scope is wider than the subject token's.")
            scope = requested
        else:
            scope = " ".join(s for s in subject.scope.split() if client.allows_scope(s))
            if not scope:
                raise InvalidScopeError("The client may have none of the subject token's scopes.")

        actor = {"sub": client.client_id}
        if subject.actor:
            actor["act"] = subject.actor
        self.request.user = user
        self.request.scope = scope
        self.request.token_context = tokens.Context(
            sid=subject.sid, org_id=subject.org_id, auth_time=subject.auth_time, actor=actor
        )

    @staticmethod
    def _subject(subject_token: str) -> Token:
        claims = decode_access_token(subject_token)
        row = by_key(Token, claims["jti"]) if claims else None
        if row is None or not row.is_active():
            raise InvalidGrantError("The subject token is invalid, expired or revoked.")
        if row.user_id is None:
            raise InvalidGrantError("The subject token must be a user's access token.")
        return row

    @hooked
    def create_token_response(self):
        token = self.generate_token(
            user=self.request.user, scope=self.request.scope, include_refresh_token=False
        )
        self.save_token(token)
        token["issued_token_type"] = ACCESS_TOKEN_TYPE
        return 200, token, self.TOKEN_RESPONSE_HEADER


class ClientDelegateGrant(TokenExchangeGrant):
    """Webex's name for the same exchange."""

    GRANT_TYPE = "client_delegate"
