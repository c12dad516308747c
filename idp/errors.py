"""Every error, in one place: HTML pages for people, RFC 6749 JSON for machines.

Machine endpoints (``/oauth/*`` but the browser-facing authorize endpoint,
``/.well-known/*``, ``/openapi.json``), and any request that prefers JSON,
get ``{"error", "error_description"}``; people get a page. A 500 rolls the
transaction back and shows no stack trace.
"""

from __future__ import annotations

import logging

from flask import Flask, Response, jsonify, render_template, request
from flask_wtf.csrf import CSRFError
from werkzeug.exceptions import HTTPException

from .extensions import db

log = logging.getLogger(__name__)

MACHINE_PREFIXES = ("/oauth/token", "/oauth/userinfo", "/oauth/introspect", "/oauth/revoke",
                    "/.well-known/", "/openapi.json", "/healthz")

OAUTH_CODES = {
    400: "invalid_request",
    401: "invalid_client",
    403: "access_denied",
    404: "invalid_request",
    405: "invalid_request",
    413: "invalid_request",
    415: "invalid_request",
    429: "temporarily_unavailable",
    500: "server_error",
    503: "temporarily_unavailable",
}

TITLES = {
    400: "That request could not be understood",
    401: "Unknown application",
    403: "Not allowed",
    404: "Page not found",
    405: "Method not allowed",
    413: "Request too large",
    429: "Too many attempts",
    500: "Something went wrong",
    503: "Temporarily unavailable",
}


def wants_json() -> bool:
    if request.path.startswith(MACHINE_PREFIXES):
        return True
    best = request.accept_mimetypes.best_match(["text/html", "application/json"])
    accept = request.accept_mimetypes
    return best == "application/json" and accept[best] > accept["text/html"]


def error_response(status: int, description: str, error: str | None = None,
                   *, as_json: bool | None = None) -> Response:
    """The error in the format the client understands (or JSON when ``as_json``)."""
    if as_json or (as_json is None and wants_json()):
        response = jsonify(error=error or OAUTH_CODES.get(status, "invalid_request"),
                           error_description=description)
    else:
        response = Response(
            render_template("errors/error.html", status=status,
                            title=TITLES.get(status, "Error"), message=description)
        )
    response.status_code = status
    response.headers["Cache-Control"] = "no-store"
    return response


def _http_error(exc: HTTPException) -> Response:
    status = exc.code or 500
    description = exc.description or TITLES.get(status, "Error")
    if isinstance(exc, CSRFError):
        description = "The form has expired or did not come from this site. Go back and try again."
    response = error_response(status, description)
    if status == 405 and exc.get_response().headers.get("Allow"):
        response.headers["Allow"] = exc.get_response().headers["Allow"]
    if status == 429 and (retry := getattr(exc, "retry_after", None)):
        response.headers["Retry-After"] = str(retry)
    return response


def _unexpected(exc: Exception) -> Response:
    db.session.rollback()
    log.exception("unhandled error on %s %s", request.method, request.path)
    return error_response(500, "The server could not complete the request.", "server_error")


def init_app(app: Flask) -> None:
    app.register_error_handler(HTTPException, _http_error)
    app.register_error_handler(Exception, _unexpected)
