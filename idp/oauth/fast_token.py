"""The plain client_credentials request, answered in front of Flask.

A service asking for a token with HTTP Basic and nothing but
``grant_type=client_credentials`` (and perhaps ``scope``) is the busiest request
an identity provider gets. This WSGI layer answers exactly that request itself,
with the token and headers the Flask view would give, at a fraction of the
cost (the token is self-contained: issuing it writes nothing). Everything else
goes on to Flask and Authlib unchanged: another path or grant, another
parameter or encoding, an unknown, disabled or stale client, a wrong secret, an
address over its failure limit, a database error, anything that raises. So
every error, and every failure count, comes from one place.

Rules (each one a reason to pass the request on):
- POST /oauth/token with no query string, a form body of at most ``MAX_BODY``
  bytes, each parameter once, ``grant_type=client_credentials`` and at most
  ``scope`` besides;
- the Host is allowed; an https issuer is reached over https;
- the caller's address is not over the token endpoint's failure limit;
- HTTP Basic for a client found in the process's client cache, eligible for the
  grant, whose secret matches;
- the one client_credentials rule (``grants.client_credentials.token_for``,
  which the Authlib grant calls too) grants it; its refusals are Flask's to give.
"""

from __future__ import annotations

import base64
import binascii
import json
import logging
from collections.abc import Callable, Iterable
from io import BytesIO
from typing import Any
from urllib.parse import parse_qsl, unquote

from authlib.oauth2 import OAuth2Error
from flask import Flask
from sqlalchemy.exc import SQLAlchemyError

from ..models import Client
from ..security import headers, ratelimit
from .grants import client_credentials

log = logging.getLogger(__name__)

PATH = "/oauth/token"
FORM = "application/x-www-form-urlencoded"
MAX_BODY = 1024
GRANT = client_credentials.GRANT

WSGIApp = Callable[[dict[str, Any], Callable[..., Any]], Iterable[bytes]]


class FastTokenPath:
    """WSGI middleware: ``app.wsgi_app = FastTokenPath(app, app.wsgi_app)``."""

    def __init__(self, app: Flask, next_app: WSGIApp) -> None:
        self.app = app
        self.next = next_app
        self.hosts = frozenset(app.config["IDP_ALLOWED_HOSTS"])
        server = app.extensions["idp.oauth"]  # made before the WSGI layers
        self.clients, self.https_only = server.clients, server.https_issuer
        self.headers = [("Content-Type", "application/json"), ("Cache-Control", "no-store"),
                        ("Pragma", "no-cache"), *headers.security_headers(app.config, html=False)]

    def __call__(self, environ: dict[str, Any], start_response: Callable[..., Any],
                 ) -> Iterable[bytes]:
        if (environ.get("PATH_INFO") != PATH or environ.get("REQUEST_METHOD") != "POST"
                or environ.get("QUERY_STRING")):  # Authlib reads the query string too
            return self.next(environ, start_response)
        body = self._read_small_form(environ)
        if body is not None:
            try:
                answer = self._answer(environ, body)
            except SQLAlchemyError as error:  # the database is down while keys refresh
                log.warning("fast token path: %s; Flask answers instead", type(error).__name__)
                answer = None
            except Exception:  # a bug: say where, and let Flask answer
                log.warning("fast token path failed; Flask answers instead", exc_info=True)
                answer = None
            if answer is not None:
                start_response("200 OK", [*self.headers, ("Content-Length", str(len(answer)))])
                return [answer]
            environ["wsgi.input"] = BytesIO(body)  # Flask reads it again
        return self.next(environ, start_response)

    @staticmethod
    def _read_small_form(environ: dict[str, Any]) -> bytes | None:
        """The body, when it is a short form; None (and nothing read) otherwise."""
        if environ.get("CONTENT_TYPE", "").split(";", 1)[0].strip().lower() != FORM:
            return None
        length = environ.get("CONTENT_LENGTH", "")
        if not (length.isascii() and length.isdigit()) or not 0 < int(length) <= MAX_BODY:
            return None
        return environ["wsgi.input"].read(int(length))

    def _answer(self, environ: dict[str, Any], body: bytes) -> bytes | None:
        """The token response as bytes, or None to let Flask answer."""
        if environ.get("HTTP_HOST", "").lower() not in self.hosts:
            return None
        if self.https_only and environ.get("wsgi.url_scheme") != "https":
            return None
        params = _form(body)
        if params is None or params.get("grant_type") != GRANT or not params.keys() <= {
                "grant_type", "scope"}:
            return None
        credentials = _basic(environ.get("HTTP_AUTHORIZATION", ""))
        if credentials is None:
            return None
        with self.app.app_context():
            if not ratelimit.token_ip_allows(environ.get("REMOTE_ADDR") or ""):
                return None  # limits first, as in Flask: a locked-out caller learns nothing
            client = self._client(*credentials)
            if client is None:
                return None
            try:
                token = client_credentials.token_for(client, params, [])
            except OAuth2Error:  # refused: Flask gives the same refusal, and counts it
                return None
            return json.dumps(token, sort_keys=True).encode()

    def _client(self, client_id: str, secret: str) -> Client | None:
        client = self.clients.cached(client_id)
        if client is None or not client_credentials.eligible(client) \
                or not client.check_client_secret(secret):
            return None
        return client


def _form(body: bytes) -> dict[str, str] | None:
    """The form's parameters if each appears once and all are plain text."""
    try:
        pairs = parse_qsl(body.decode("ascii"), keep_blank_values=True, strict_parsing=True,
                          errors="strict")
    except (UnicodeDecodeError, ValueError):
        return None
    params = dict(pairs)
    return params if len(params) == len(pairs) else None


def _basic(header: str) -> tuple[str, str] | None:
    """``client_id`` and secret from HTTP Basic (RFC 6749 §2.3.1: both form-encoded)."""
    scheme, _, encoded = header.partition(" ")
    if scheme.lower() != "basic":
        return None
    try:
        decoded = base64.b64decode(encoded.strip(), validate=True).decode("utf-8")
    except (binascii.Error, UnicodeDecodeError):
        return None
    client_id, colon, secret = decoded.partition(":")
    if not colon or not client_id or not secret:
        return None
    return unquote(client_id), unquote(secret)
