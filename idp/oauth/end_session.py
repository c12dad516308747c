"""RP-initiated logout (OpenID Connect RP-Initiated Logout 1.0).

Rules:
- ``id_token_hint`` must be an ID token we signed (any of our keys, an ID
  token algorithm, our issuer); a bad one is an error page, never a redirect;
- with a valid hint the session ends at once; without one the person is
  asked to confirm;
- ``post_logout_redirect_uri`` is followed only if it exactly matches one the
  client registered, and only with a valid hint or after the confirmation;
  ``state`` is passed back;
- ending a session revokes the tokens bound to it (but offline ones).
"""

from __future__ import annotations

from authlib.oauth2.rfc6749.errors import InvalidRequestError
from authlib.oidc.rpinitiated import EndSessionEndpoint as _EndSessionEndpoint
from flask import request as flask_request

from ..services import sessions
from ..services.audit import Origin
from . import id_token, keys


class EndSessionEndpoint(_EndSessionEndpoint):
    def get_server_jwks(self):
        return keys.verification_keys()

    def get_algorithms(self) -> list[str]:
        return id_token.ID_TOKEN_ALGS

    def validate_request(self, request):
        hint = request.payload.data.get("id_token_hint")
        if hint and id_token.verify_hint(hint) is None:
            raise InvalidRequestError("'id_token_hint' is not an ID token issued here.")
        return super().validate_request(request)

    def is_post_logout_redirect_uri_legitimate(self, request, post_logout_redirect_uri,
                                               client, logout_hint) -> bool:
        # Without a hint, only after the person confirmed on our page (CSRF-checked).
        return confirmed()

    def end_session(self, end_session_request) -> None:
        """End the session the hint names; the view ends the browser's own."""
        claims = end_session_request.id_token_claims or {}
        if sid := claims.get("sid"):
            sessions.end(sid, Origin.of(flask_request), user_id=claims.get("sub"))


def confirmed() -> bool:
    return flask_request.method == "POST" and flask_request.form.get("confirm") == "yes"
