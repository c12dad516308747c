"""RP-initiated logout (OpenID Connect RP-Initiated Logout 1.0 §2-§4).

Rules:
- ``id_token_hint`` must be one of our ID tokens (any of our keys, an ID token
  algorithm, our issuer; expired is fine; an access token is not one); a bad
  one is an error page;
- ``post_logout_redirect_uri`` must exactly match one the client (named by
  ``client_id`` or the hint's ``aud``) registered: anything else, a query added
  included, is an error page; after an error nobody is signed out;
- only the browser's own session ends, at once when the hint names it (its
  ``sub`` and ``sid``), and otherwise after the person confirms on our page
  (a hint for another session, or none, could be anyone's);
- nobody signed in: the page says so (and a hint's client gets its redirect);
- the redirect carries ``state``; ending a session revokes the tokens bound to it.
"""

from __future__ import annotations

from authlib.common.urls import add_params_to_uri
from authlib.oauth2.rfc6749 import OAuth2Request
from authlib.oauth2.rfc6749.errors import InvalidRequestError
from authlib.oidc.rpinitiated import EndSessionEndpoint as _EndSessionEndpoint
from authlib.oidc.rpinitiated import EndSessionRequest
from flask import request as flask_request

from ..models import Client, LoginSession
from . import id_token, keys


class EndSessionEndpoint(_EndSessionEndpoint):
    def get_server_jwks(self):
        return keys.verification_keys()

    def get_algorithms(self) -> list[str]:
        return id_token.ID_TOKEN_ALGS

    def validate_request(self, request: OAuth2Request) -> EndSessionRequest:
        data = request.payload.data
        hint = data.get("id_token_hint")
        if hint and id_token.verify_hint(hint) is None:
            raise InvalidRequestError("'id_token_hint' is not an ID token issued here.")
        validated = super().validate_request(request)
        if uri := data.get("post_logout_redirect_uri"):
            if validated.client is None:
                raise InvalidRequestError("Name the application ('client_id' or "
                                          "'id_token_hint') to return to it after signing out.")
            if uri not in validated.client.post_logout_redirect_uris:
                raise InvalidRequestError("'post_logout_redirect_uri' is not registered for "
                                          "this application.")
        return validated

    def is_post_logout_redirect_uri_legitimate(self, request: OAuth2Request,
                                               post_logout_redirect_uri: str, client: Client,
                                               logout_hint: str | None) -> bool:
        # Without a hint, only after the person confirmed on our page (CSRF-checked).
        return confirmed()

    def end_session(self, end_session_request: EndSessionRequest) -> None:
        raise NotImplementedError("the view ends the browser's own session")  # never called


def confirmed() -> bool:
    return flask_request.method == "POST" and flask_request.form.get("confirm") == "yes"


def names_session(validated: EndSessionRequest, login_session: LoginSession) -> bool:
    """Whether the hint names this very session (its user, and its ``sid`` if any)."""
    claims = validated.id_token_claims
    if not claims or claims.get("sub") != login_session.user_id:
        return False
    return claims.get("sid") in (None, login_session.sid)


def return_link(validated: EndSessionRequest) -> str | None:
    """The registered post-logout URI, with ``state``: a link the person may follow."""
    data = validated.request.payload.data
    uri = data.get("post_logout_redirect_uri")
    if not uri or validated.client is None:
        return None
    return add_params_to_uri(uri, {"state": data["state"]}) if data.get("state") else uri
