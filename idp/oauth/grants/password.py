"""The resource owner password grant (PrivX "external" clients, Webex).

Rules:
- only for clients created with the ``password`` grant (``unauthorized_client``);
- a wrong username or password is ``invalid_grant`` (RFC 6749 §5.2; Authlib
  says ``invalid_request``), and an unknown user costs the same argon2 time;
- the organization by ``services.orgs.resolve``: ``orgId`` picks one of the
  user's (``invalid_request`` if they are not a member), a client bound to an
  organization fixes it (any other ``orgId`` is ``invalid_request``), a user
  with one organization gets it, and one with several and no ``orgId`` none;
- a user who must give a second factor (they have one, or the client or the
  organization requires one) is refused (``invalid_grant``): this grant has no
  way to ask for it;
- an ID token when ``openid`` is granted; a refresh token when the client
  has the refresh_token grant.
"""

from __future__ import annotations

from authlib.oauth2.rfc6749 import grants
from authlib.oauth2.rfc6749.errors import InvalidGrantError, InvalidRequestError
from flask import request as flask_request

from ...clock import now
from ...models import User
from ...security import ratelimit
from ...services import accounts, audit, factors, orgs
from ...services.audit import Origin
from .. import tokens
from .base import IssuesTokens, add_id_token


class PasswordGrant(IssuesTokens, grants.ResourceOwnerPasswordCredentialsGrant):
    TOKEN_ENDPOINT_AUTH_METHODS = ["client_secret_basic", "client_secret_post"]

    def __init__(self, request, server):
        super().__init__(request, server)
        self.register_hook("after_create_token_response", add_id_token)

    def authenticate_user(self, username: str, password: str) -> User:
        origin = Origin.of(flask_request)
        user = ratelimit.checked_password(
            username, lambda: accounts.authenticate(username, password, origin))
        if user is None:
            raise InvalidGrantError("Wrong username or password.")
        return user

    def validate_token_request(self):
        super().validate_token_request()
        user, client = self.request.user, self.request.client
        origin = Origin.of(flask_request)
        decision = orgs.resolve(client, user, self.request.form.get("orgId"))
        if decision.refusal:
            raise InvalidRequestError(decision.refusal)
        if factors.required(user, client) or factors.organization_requires(decision.org_id):
            audit.record("login.refused", origin, user_id=user.id, client_id=client.client_id,
                         grant_type="password", reason="second factor required")
            raise InvalidGrantError(
                "This sign-in needs a second factor, which the password grant cannot ask "
                "for. Sign in through the browser (the authorization code flow).")
        audit.record("login.success", origin, user_id=user.id, client_id=client.client_id,
                     grant_type="password", amr=["pwd"])
        self.request.token_context = tokens.Context(org_id=decision.org_id, auth_time=now())
