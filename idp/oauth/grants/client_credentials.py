"""The client credentials grant (PrivX "service" clients): one rule, ``token_for``,
which the Authlib grant and the fast path (``oauth.fast_token``) both call.

Rules:
- confidential, enabled clients with the ``client_credentials`` grant only
  (``eligible``);
- ``sub`` is the client; never a refresh token;
- ``orgId`` only names the organization the client is bound to
  (``invalid_request`` otherwise); a bound client's tokens carry it anyway;
- scope, API (``resource``, the client's default API) and lifetime
  (``accessTokenValiditySeconds`` may only shorten it) as every grant
  (``grants.base.token_response``).
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from authlib.oauth2.rfc6749 import grants
from authlib.oauth2.rfc6749.errors import InvalidRequestError

from ...models import Client
from ...services import orgs
from .. import tokens
from .base import IssuesTokens, token_response

GRANT = "client_credentials"


def eligible(client: Client) -> bool:
    return not client.disabled and not client.is_public and client.check_grant_type(GRANT)


def context_for(client: Client, form: Mapping[str, str]) -> tokens.Context:
    """The organization the token is for; ``invalid_request`` for another one."""
    decision = orgs.resolve(client, None, form.get("orgId"))
    if decision.refusal:
        raise InvalidRequestError(decision.refusal)
    return tokens.Context(org_id=decision.org_id)


def token_for(client: Client, form: Mapping[str, str], resources: list[str]) -> dict[str, Any]:
    """The token response for an authenticated, eligible client (raises the OAuth
    error that refuses it)."""
    token, _ = token_response(client, None, form.get("scope"), GRANT,
                              context_for(client, form), form, resources,
                              include_refresh_token=False)
    return token


class ClientCredentialsGrant(IssuesTokens, grants.ClientCredentialsGrant):
    TOKEN_ENDPOINT_AUTH_METHODS = ["client_secret_basic", "client_secret_post"]

    def validate_token_request(self):
        super().validate_token_request()
        self.request.token_context = context_for(self.request.client, self.request.form)
