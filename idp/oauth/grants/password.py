"""The resource owner password grant (PrivX "external" clients, Webex).

Rules:
- only for clients created with the ``password`` grant (``unauthorized_client``);
- a wrong username or password is ``invalid_grant`` (RFC 6749 §5.2; Authlib
  says ``invalid_request``), and an unknown user costs the same argon2 time;
- ``orgId`` picks one of the user's organizations (``invalid_request`` if
  they are not a member); a client bound to an organization fixes it, and
  any other ``orgId`` is ``invalid_request``, as for client credentials;
- an ID token when ``openid`` is granted; a refresh token when the client
  has the refresh_token grant.
"""

from __future__ import annotations

from authlib.oauth2.rfc6749 import grants
from authlib.oauth2.rfc6749.errors import InvalidGrantError, InvalidRequestError
from flask import request as flask_request

from ...clock import now
from ...services import accounts, orgs
from ...services.audit import Origin
from .. import tokens
from .base import IssuesTokens, add_id_token


class PasswordGrant(IssuesTokens, grants.ResourceOwnerPasswordCredentialsGrant):
    TOKEN_ENDPOINT_AUTH_METHODS = ["client_secret_basic", "client_secret_post"]

    def __init__(self, request, server):
        super().__init__(request, server)
        self.register_hook("after_create_token_response", add_id_token)

    def authenticate_user(self, username: str, password: str):
        user = accounts.authenticate(username, password, Origin.of(flask_request))
        if user is None:
            raise InvalidGrantError("Wrong username or password.")
        return user

    def validate_token_request(self):
        super().validate_token_request()
        client, user = self.request.client, self.request.user
        requested = self.request.form.get("orgId")
        if requested and client.org_id:
            named = orgs.find_org(requested)
            if named is None or named.id != client.org_id:
                raise InvalidRequestError("This client is bound to another organization.")
        wanted = client.org_id or requested
        org_id = None
        if wanted:
            org = orgs.find_org(wanted)
            if org is None or orgs.membership(user.id, org.id) is None:
                raise InvalidRequestError("The user is not a member of that organization.")
            org_id = org.id
        elif len(memberships := orgs.memberships(user.id)) == 1:
            org_id = memberships[0].org_id
        self.request.token_context = tokens.Context(org_id=org_id, auth_time=now())
