"""Every error, in one place: HTML pages for people, RFC 6749 JSON for machines.

Machine endpoints (``/oauth/*`` but the browser-facing authorize endpoint,
``/.well-known/*``, ``/openapi.json``), and any request that prefers JSON,
get ``{"error", "error_description"}``; the admin API (``/admin/api/``) RFC 9457
problem details; people get a page. A 500 rolls the
transaction back and shows no stack trace. A NUL character, which no database
column may hold (PostgreSQL refuses it), is a 400 wherever it comes: in the
path or the query string before any view runs, in a body when it reaches the
database.
"""

from __future__ import annotations

import json
import logging
import time

from authlib.oauth2.rfc6749.errors import InsecureTransportError
from flask import Flask, Response, g, jsonify, render_template, request
from flask_babel import gettext
from flask_babel import lazy_gettext as _l
from flask_wtf.csrf import CSRFError
from sqlalchemy.exc import DataError, OperationalError
from werkzeug.exceptions import HTTPException

from .extensions import db, limiter
from .i18n import N_

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
    500: "invalid_request",  # PrivX's documented 500 body; RFC 6749 §5.2 has no server_error
    502: "temporarily_unavailable",
    503: "temporarily_unavailable",
}

TITLES = {
    400: _l("That request could not be understood"),
    401: _l("Unknown application"),
    403: _l("Not allowed"),
    404: _l("Page not found"),
    405: _l("Method not allowed"),
    413: _l("Request too large"),
    429: _l("Too many attempts"),
    500: _l("Something went wrong"),
    502: _l("Another service is not answering"),
    503: _l("Temporarily unavailable"),
}

# What happened, when the exception says no more than its class does (Werkzeug's own
# descriptions are English only).
WORDS = {
    400: N_("The request could not be understood."),
    401: N_("This needs you to sign in, or an application that is registered here."),
    403: N_("You are not allowed to do this."),
    404: N_("There is no page at this address."),
    405: N_("This address does not take that kind of request."),
    413: N_("The request is larger than this service accepts."),
    414: N_("The address is longer than this service accepts."),
    415: N_("The request is in a format this service does not read."),
    429: N_("Too many attempts in a short time."),
    500: N_("The server could not complete the request."),
    502: N_("Another service did not answer in time."),
    503: N_("The service is temporarily unavailable; try again shortly."),
}

# What a person can do about it (the page's second line).
HINTS = {
    400: _l("Go back to the application you came from and start again."),
    401: _l("Go back to the application and tell the people who run it: this sign-in service "
            "does not know it."),
    403: _l("If you think you should be allowed, ask your administrator."),
    404: _l("Check the address, or start again from the sign-in page."),
    405: _l("Go back to the application you came from and start again."),
    413: _l("Go back and send less."),
    500: _l("Try again in a moment. If it keeps happening, tell your administrator."),
    502: _l("Try again in a moment."),
    503: _l("Try again in a moment."),
}


def wants_json() -> bool:
    if request.path.startswith(MACHINE_PREFIXES):
        return True
    best = request.accept_mimetypes.best_match(["text/html", "application/json"])
    accept = request.accept_mimetypes
    return best == "application/json" and accept[best] > accept["text/html"]


def is_browser() -> bool:
    """The client is a browser: its Accept names ``text/html`` above JSON. A client
    that accepts anything (``*/*``, or no Accept at all) is a program."""
    accept = request.accept_mimetypes
    named = {value for value, _quality in accept}
    return "text/html" in named and accept["text/html"] > accept["application/json"]


ADMIN_API = "/admin/api/"
PROBLEM = "application/problem+json"


def problem_response(status: int, detail: str, kind: str = "about:blank",
                     errors: list[dict[str, str]] | None = None) -> Response:
    """RFC 9457 problem details."""
    from http import HTTPStatus

    body: dict[str, object] = {"type": kind, "title": HTTPStatus(status).phrase,
                               "status": status, "detail": detail}
    if errors:
        body["errors"] = errors
    response = Response(json.dumps(body), status=status, mimetype=PROBLEM)
    response.headers["Cache-Control"] = "no-store"
    return response


def error_response(status: int, description: str, error: str | None = None,
                   *, as_json: bool | None = None, retry_after: int | None = None,
                   plain: str | None = None) -> Response:
    """The error in the format the client understands (or JSON when ``as_json``).

    JSON keeps the English description (RFC 6749 §5.2: ASCII for developers); the
    page shows it in the person's language when the catalogue has it (messages
    marked with ``N_``), with what to do next and a way back. With ``plain`` (words
    for a person, ``N_``-marked), the page says that and keeps the description, in
    developers' terms, under "Details"."""
    if request.path.startswith(ADMIN_API):
        return problem_response(status, description)
    if as_json or (as_json is None and wants_json()):
        response = jsonify(error=error or OAUTH_CODES.get(status, "invalid_request"),
                           error_description=description)
    else:
        # The account link only for someone already known to this request: finding
        # out would ask the database, which may be why this page is shown.
        known = getattr(g, "_login_user", None)
        response = Response(render_template(
            "errors/error.html", status=status, error=error, title=TITLES.get(status, _l("Error")),
            message=gettext(plain or description), details=description if plain else None,
            hint=HINTS.get(status), retry_after=retry_after,
            signed_in=bool(known is not None and known.is_authenticated)))
    response.status_code = status
    response.headers["Cache-Control"] = "no-store"
    if retry_after is not None:
        response.headers["Retry-After"] = str(retry_after)
    return response


def _http_error(exc: HTTPException) -> Response:
    status = exc.code or 500
    description = exc.description or ""
    if not description or description == type(exc).description:
        description = WORDS.get(status) or type(exc).description or "Error"  # JSON: English
    if isinstance(exc, CSRFError):
        description = N_("The form has expired or did not come from this site. "
                         "Go back and try again.")
    if status == 429:  # the limit's own words, or ours rather than its notation
        limit = getattr(exc, "limit", None)
        description = getattr(limit, "error_message", None) or WORDS[429]
    response = error_response(status, description,
                              retry_after=_retry_after(exc) if status == 429 else None)
    if status == 405 and exc.get_response().headers.get("Allow"):
        response.headers["Allow"] = exc.get_response().headers["Allow"]
    return response


def _retry_after(exc: HTTPException) -> int:
    """Seconds until the breached limit's window resets (its whole window at worst)."""
    current = limiter.current_limit
    if current is not None:
        return max(1, int(current.reset_at - time.time()))
    limit = getattr(exc, "limit", None)
    return limit.limit.get_expiry() if limit is not None else 60


def _database_down(exc: OperationalError) -> Response:
    db.session.rollback()
    log.error("database unreachable on %s %s: %s", request.method, request.path,
              str(exc.orig).splitlines()[0] if exc.orig else exc.__class__.__name__)
    return error_response(503, N_("The service is temporarily unavailable; try again shortly."),
                          "temporarily_unavailable", retry_after=5)


NUL_REFUSED = N_("The request contains a NUL character, which is not allowed.")


def _refuse_nul() -> Response | None:
    if "\x00" in request.path or b"%00" in request.query_string:
        return error_response(400, NUL_REFUSED, "invalid_request")
    return None


def _bad_data(exc: DataError) -> Response:
    """What the database refused to store or compare (a NUL byte in a form value)."""
    db.session.rollback()
    log.warning("database refused a value on %s %s: %s", request.method, request.path,
                str(exc.orig).splitlines()[0] if exc.orig else exc.__class__.__name__)
    return error_response(400, NUL_REFUSED if "NUL" in str(exc.orig) else
                          N_("The request contains a value that cannot be stored."),
                          "invalid_request")


def _insecure_transport(exc: InsecureTransportError) -> Response:
    return error_response(400, "This endpoint is only served over HTTPS. Behind a TLS proxy, "
                          "set IDP_PROXY_COUNT.", "invalid_request")


def _unexpected(exc: Exception) -> Response:
    db.session.rollback()
    log.exception("unhandled error on %s %s", request.method, request.path)
    return error_response(500, N_("The server could not complete the request."))


def init_app(app: Flask) -> None:
    app.before_request(_refuse_nul)
    app.register_error_handler(HTTPException, _http_error)
    app.register_error_handler(DataError, _bad_data)
    app.register_error_handler(OperationalError, _database_down)
    app.register_error_handler(InsecureTransportError, _insecure_transport)
    app.register_error_handler(Exception, _unexpected)
