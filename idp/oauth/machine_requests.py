"""What a request to the token, introspection or revocation endpoint must be, before
Authlib reads it.

Rules (RFC 6749 §2.3, §3.2; RFC 7009 §2.1; RFC 7662 §2.1):
- the parameters are a form-encoded body, each at most once; a query string is
  refused (``invalid_request``): it is not where they go, and what every check
  reads must be what Authlib acts on;
- one client authentication method per request: HTTP Basic and a
  ``client_secret`` in the body together are refused, and so is a body
  ``client_id`` naming another client than the Basic credentials;
- HTTP Basic credentials that cannot be read (not base64, not UTF-8, no colon)
  are ``invalid_client`` (401, ``WWW-Authenticate: Basic``), as wrong ones are.
"""

from __future__ import annotations

import base64
import binascii
from urllib.parse import unquote

from flask import Response, request

from ..errors import error_response

FORM = "application/x-www-form-urlencoded"


def refusal() -> Response | None:
    """The error answer this request gets before any protocol work, or None."""
    if request.query_string:
        return _invalid("Send the parameters in the request body, not in the query string.")
    if request.mimetype != FORM:
        return _invalid(f"Send the parameters as {FORM}.")
    repeated = sorted(k for k, values in request.form.lists() if len(values) > 1)
    if repeated:
        return _invalid(f"Parameter sent more than once: {', '.join(repeated)}.")
    scheme, _, encoded = request.headers.get("Authorization", "").partition(" ")
    if scheme.lower() != "basic":
        return None
    client_id = basic_client_id(encoded)
    if client_id is None:
        response = error_response(401, "Client authentication failed.", "invalid_client",
                                  as_json=True)
        response.headers["WWW-Authenticate"] = 'Basic realm="token"'
        return response
    if request.form.get("client_secret") is not None:
        return _invalid("Authenticate the client one way only: HTTP Basic or the body, "
                        "not both.")
    if request.form.get("client_id") not in (None, client_id):
        return _invalid("'client_id' does not match the HTTP Basic credentials.")
    return None


def basic_client_id(encoded: str) -> str | None:
    """The client id of HTTP Basic credentials (form-encoded, RFC 6749 §2.3.1), or None
    when they cannot be read."""
    try:
        decoded = base64.b64decode(encoded.strip(), validate=True).decode("utf-8")
    except (binascii.Error, UnicodeDecodeError):
        return None
    client_id, colon, _secret = decoded.partition(":")
    if not colon or not client_id:
        return None
    return unquote(client_id)


def _invalid(description: str) -> Response:
    return error_response(400, description, "invalid_request", as_json=True)
