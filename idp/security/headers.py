"""Response headers for every page, and the allowed-hosts gate.

Rules:
- a request whose Host is not in ``IDP_ALLOWED_HOSTS`` is 403 ``access_denied``
  (Clerk's "satellite domain"), before any other work: JSON, or a page naming the
  issuer's address for a browser;
- pages cannot be framed (CSP ``frame-ancestors 'none'``, ``X-Frame-Options``),
  (no ``form-action``: browsers apply it to the redirect to the client too),
  load nothing from elsewhere, run no script but the page's own, named by a
  nonce (``csp_nonce()`` in a template: the passkey script; the form_post page
  sets its own policy), send a referrer only to this origin
  (``same-origin``: RFC 9700 §4.2.4; ``csrf.py`` says why forms need no more), are
  not sniffed;
- HSTS when the issuer is https; HTML pages are never cached.
"""

from __future__ import annotations

import secrets
from collections.abc import Mapping
from typing import Any

from flask import Flask, Response, current_app, g, request

from ..errors import error_response, is_browser

# https: images are the logos clients register (``logo_uri``, https only), shown on
# the consent page without a Referer.
PAGE_CSP = (
    "default-src 'none'; style-src 'self'; img-src 'self' data: https:; "
    "frame-ancestors 'none'; base-uri 'none'"
)


def _check_host():
    if request.path == "/healthz":  # load balancers probe by address, not by name
        return None
    host = (request.host or "").lower()
    if host not in current_app.config["IDP_ALLOWED_HOSTS"]:
        return error_response(403, "This identity provider does not serve this address. "
                              f"Use {current_app.config['IDP_ISSUER']} instead.", "access_denied",
                              as_json=not is_browser())
    return None


def security_headers(config: Mapping[str, Any], html: bool) -> list[tuple[str, str]]:
    """The headers every response carries (a response's own values come first)."""
    values = [
        ("Content-Security-Policy", PAGE_CSP),
        ("X-Frame-Options", "DENY"),
        ("Referrer-Policy", "same-origin"),
        ("X-Content-Type-Options", "nosniff"),
    ]
    if config["SESSION_COOKIE_SECURE"]:
        values.append(("Strict-Transport-Security", "max-age=31536000; includeSubDomains"))
    if html:
        values.append(("Cache-Control", "no-store"))
    return values


def csp_nonce() -> str:
    """The nonce of this page's scripts (made on first use, one per response)."""
    if "csp_nonce" not in g:
        g.csp_nonce = secrets.token_urlsafe(16)
    return str(g.csp_nonce)


def _set_headers(response: Response) -> Response:
    headers = response.headers
    if "csp_nonce" in g and "Content-Security-Policy" not in headers:
        headers["Content-Security-Policy"] = (
            PAGE_CSP + f"; script-src 'nonce-{g.csp_nonce}'; connect-src 'self'")
    for name, value in security_headers(current_app.config, response.mimetype == "text/html"):
        headers.setdefault(name, value)
    return response


def init_app(app: Flask) -> None:
    app.before_request(_check_host)
    app.after_request(_set_headers)
    app.jinja_env.globals["csp_nonce"] = csp_nonce
