"""Where this provider meets Authlib below its public surface: request objects.

Authlib's Flask server builds every OAuth 2.0 request from the current Flask
request, and refuses a plain-http URL for any host but loopback. Two things
here need more, and nothing else in the package reaches past Authlib's
documented API:

- an authorization request rebuilt from an interaction's stored parameters,
  not from the Flask request that resumes it (``AuthorizationRequest``);
- a plain-http issuer chosen by the operator (a demo, a LAN), whose token
  requests Authlib would refuse (``TokenRequest``).

Both carry the typed attributes our grants set (``Extras``) instead of ad-hoc
ones. ``tests/unit/test_authlib_adapter.py`` fails loudly if Authlib changes
what these rely on: ``OAuth2Request(method, uri, headers=)``, a ``payload``
with ``data`` and ``datalist``, and ``InsecureTransportError.check(uri)`` in
the constructor.
"""

from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from authlib.integrations.flask_oauth2.requests import FlaskOAuth2Payload, FlaskOAuth2Request
from authlib.oauth2.rfc6749 import OAuth2Payload, OAuth2Request
from werkzeug.datastructures import MultiDict

if TYPE_CHECKING:
    from flask import Request

    from ..models import LoginSession
    from .tokens import Context


@dataclass
class Decision:
    """What the person decided, for the code the authorization request is answered with."""

    login_session: LoginSession
    org_id: str | None


class Extras:
    """What our grants hang on a request, typed: set by the grant or the interaction."""

    decision: Decision | None = None  # authorization endpoint: who, which organization
    resources: list[str] | None = None  # authorization endpoint: the APIs it is for
    claims_request: dict[str, Any] | None = None  # authorization endpoint: OIDC Core §5.5
    token_context: Context | None = None  # token endpoint: what the issuance hangs on
    issued_token: dict[str, Any] | None = None  # the row of the token just issued


class ValuesPayload(OAuth2Payload):
    """An authorization request's parameters from a ``MultiDict`` (every value kept)."""

    def __init__(self, values: MultiDict[str, str]) -> None:
        self._values = values

    @property
    def data(self) -> MultiDict[str, str]:
        return self._values

    @property
    def datalist(self) -> defaultdict[str, list[str]]:
        lists: defaultdict[str, list[str]] = defaultdict(list)
        for key, values in self._values.lists():
            lists[key].extend(values)
        return lists


def _transport_uri(uri: str) -> str:
    """Authlib refuses plain-http URLs off loopback; the issuer's scheme is the
    operator's choice, and the URI goes nowhere, so it is presented as https."""
    return "https" + uri[4:] if uri.startswith("http:") else uri


class AuthorizationRequest(Extras, OAuth2Request):
    """An authorization request from its parameters: the first visit's, or the ones
    an interaction stored, whatever Flask request is being served."""

    def __init__(self, issuer: str, values: MultiDict[str, str]) -> None:
        super().__init__("GET", _transport_uri(issuer + "/oauth/authorize"), headers={})
        self.payload = ValuesPayload(values)

    @property
    def args(self) -> MultiDict[str, str]:
        return self.payload.data

    @property
    def form(self) -> MultiDict[str, str]:
        return self.payload.data


class TokenRequest(Extras, FlaskOAuth2Request):
    """A token-endpoint request (Authlib's Flask request), also for a plain-http issuer."""

    def __init__(self, request: Request, *, https_issuer: bool) -> None:
        if https_issuer:
            super().__init__(request)
            return
        OAuth2Request.__init__(self, request.method, _transport_uri(request.url),
                               headers=request.headers)
        self._request = request
        self.payload = FlaskOAuth2Payload(request)
