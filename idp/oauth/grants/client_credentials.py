"""The client credentials grant (PrivX "service" clients).

Rules:
- confidential clients with the ``client_credentials`` grant only;
- ``sub`` is the client; never a refresh token;
- ``orgId`` only names the organization the client is bound to
  (``invalid_request`` otherwise); a bound client's tokens carry it anyway.
"""

from __future__ import annotations

from authlib.oauth2.rfc6749 import grants
from authlib.oauth2.rfc6749.errors import InvalidRequestError

from ...services import orgs
from .. import tokens
from .base import IssuesTokens


class ClientCredentialsGrant(IssuesTokens, grants.ClientCredentialsGrant):
    TOKEN_ENDPOINT_AUTH_METHODS = ["client_secret_basic", "client_secret_post"]

    def validate_token_request(self):
        super().validate_token_request()
        decision = orgs.resolve(self.request.client, None, self.request.form.get("orgId"))
        if decision.refusal:
            raise InvalidRequestError(decision.refusal)
        self.request.token_context = tokens.Context(org_id=decision.org_id)
