"""Delegation: RFC 8693 token exchange and Webex's ``client_delegate``.

The calling client presents a user's access token and receives a token for
that user, naming itself as the actor. Authlib has no token exchange, so this
grant is written on its ``BaseGrant``.

Rules:
- only for clients created with the grant (``unauthorized_client``);
- ``subject_token`` is required and ``subject_token_type`` must be
  ``urn:ietf:params:oauth:token-type:access_token`` (``invalid_request``);
- the subject token must be one of our access tokens, for a user, active
  (``services.grants``); anything else (expired, revoked, foreign, malformed, a
  client's own token) is ``invalid_grant``;
- the calling client's organization binding applies: a client bound to an
  organization takes only tokens for it (``invalid_grant``); the new token's
  organization is the subject's;
- the scope is no wider than the subject token's (``invalid_scope``), and
  never ``offline_access``; when omitted, the subject's scopes the calling
  client may have;
- the new token hangs on a grant derived from the subject's: it is revoked
  with it (consent withdrawn, signed out, a replay), expires no later than
  the subject token, and is listed on the user's account page; the exchange
  is an audit event (``token.exchanged``);
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
from flask import request as flask_request

from ...services import audit, grants, orgs
from ...services.audit import Origin
from ...services.grants import ActiveToken
from .. import resources, tokens
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
        user = subject.user
        assert user is not None
        assert subject.grant is not None
        decision = orgs.resolve(client, user, subject.org_id)
        if decision.refusal or decision.org_id != subject.org_id:
            raise InvalidGrantError("The subject token is for another organization than the "
                                    "one this client is bound to.")

        inherited = [s for s in subject.scope.split() if s != tokens.OFFLINE]
        if requested := self.request.payload.scope:
            if not set(requested.split()) <= set(inherited):
                raise InvalidScopeError("The scope is wider than the subject token's.")
            scope = " ".join(dict.fromkeys(requested.split()))
        else:
            scope = " ".join(s for s in inherited if client.allows_scope(s))
            if not scope:
                raise InvalidScopeError("The client may have none of the subject token's scopes.")

        actor = {"sub": client.client_id}
        if previous := subject.claims.get("act"):
            actor["act"] = previous
        self.request.user = user
        self.request.scope = scope
        self.request.token_context = tokens.Context(
            root_id=subject.grant.root_id, parent_id=subject.grant.id, new_grant=False,
            sid=subject.grant.sid, org_id=subject.org_id, auth_time=subject.claims.get("auth_time"),
            actor=actor, origin_grant=self.GRANT_TYPE, not_after=subject.claims["exp"],
            # The subject's API, if it was for one: an exchange never widens the audience.
            resources=[subject.claims["aud"]] if resources.catalog().by_identifier.get(
                subject.claims["aud"]) else [],
        )
        audit.record("token.exchanged", Origin.of(flask_request), user_id=user.id,
                     client_id=client.client_id, subject_client_id=subject.client.client_id,
                     scope=scope, grant_type=self.GRANT_TYPE)

    def _subject(self, subject_token: str) -> ActiveToken:
        claims = decode_access_token(subject_token)
        subject = None
        if claims is not None:
            subject = grants.active_access_token(
                claims, self.server.query_client(claims.get("client_id")))
        if subject is None:
            raise InvalidGrantError("The subject token is invalid, expired or revoked.")
        if subject.user is None or subject.grant is None:
            raise InvalidGrantError("The subject token must be a user's access token.")
        return subject

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
