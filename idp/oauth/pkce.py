"""PKCE (RFC 7636) as RFC 9700 wants it.

Rules:
- ``S256`` only; ``plain``, and a challenge without a method (which RFC 7636
  reads as ``plain``), are ``invalid_request``;
- a challenge is mandatory for public clients and clients created with
  ``--require-pkce``; other confidential clients may send one, and then the
  verifier is enforced;
- a ``code_verifier`` for a code issued without a challenge is rejected
  (downgrade defence, RFC 9700 §4.8.2; Authlib's check, kept).
"""

from authlib.oauth2.rfc6749 import InvalidRequestError
from authlib.oauth2.rfc7636 import CodeChallenge


class PKCE(CodeChallenge):
    SUPPORTED_CODE_CHALLENGE_METHOD = ["S256"]

    def validate_code_challenge(self, grant, redirect_uri):
        data = grant.request.payload.data
        challenge, method = data.get("code_challenge"), data.get("code_challenge_method")
        if not challenge and not method:
            if grant.request.client.require_pkce:
                raise InvalidRequestError(
                    "This client must use PKCE: send 'code_challenge' with "
                    "'code_challenge_method=S256'."
                )
            return
        if challenge and not method:
            raise InvalidRequestError("'code_challenge_method' must be 'S256'.")
        super().validate_code_challenge(grant, redirect_uri)
