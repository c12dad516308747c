"""Authorization responses in the requested ``response_mode``.

Rules:
- ``query`` (default), ``fragment`` and ``form_post`` (OAuth 2.0 Form Post
  Response Mode); any other value is ``invalid_request``;
- every response, success or error, carries ``iss`` (RFC 9207);
- 302 answers a GET, 303 a POSTed form, never 307 (RFC 9700 §4.12);
- ``form_post`` is a 200 HTML page whose values are HTML-escaped, byte for
  byte what was sent (Authlib URL-encodes them), ``Cache-Control: no-store``,
  and only that page's own inline script is allowed to run.
"""

from __future__ import annotations

import secrets
from collections.abc import Mapping

from authlib.common.urls import add_params_to_uri
from flask import current_app, render_template, request

RESPONSE_MODES = ("query", "fragment", "form_post")
DEFAULT_MODE = "query"


def requested_mode(data: Mapping[str, str]) -> str:
    """The request's response mode; unknown values fall back to the default."""
    mode = data.get("response_mode") or DEFAULT_MODE
    return mode if mode in RESPONSE_MODES else DEFAULT_MODE


def build(redirect_uri: str, params: list[tuple[str, str]], mode: str,
          client_name: str | None = None) -> tuple[int, str, list[tuple[str, str]]]:
    """Return ``(status, body, headers)`` delivering ``params`` to the client (whose
    name the form_post page shows while it returns there)."""
    params = [*params, ("iss", current_app.config["IDP_ISSUER"])]
    if mode == "form_post":
        nonce = secrets.token_urlsafe(16)
        body = render_template("oauth/form_post.html", action=redirect_uri, params=params,
                               script_nonce=nonce, client_name=client_name)
        return 200, body, [
            ("Content-Type", "text/html; charset=utf-8"),
            ("Cache-Control", "no-store"),
            ("Pragma", "no-cache"),
            ("Content-Security-Policy", form_post_csp(nonce)),
        ]
    uri = add_params_to_uri(redirect_uri, params, fragment=(mode == "fragment"))
    status = 303 if request.method == "POST" else 302
    return status, "", [("Location", uri), ("Cache-Control", "no-store")]


def form_post_csp(nonce: str) -> str:
    # form-action must allow the client's origin; the redirect URI was validated.
    return (
        f"default-src 'none'; script-src 'nonce-{nonce}'; style-src 'self'; "
        "img-src 'self' https:; "
        "form-action *; frame-ancestors 'none'; base-uri 'none'"
    )
