"""Carrying an authorization request through login, organization and consent.

Each interaction page gets the authorization parameters in its own query
string and hands them back to ``/oauth/authorize`` when done, dropping the
``prompt`` value it has just satisfied; nothing about the request is kept
server-side, and every step validates the request again through Authlib.
"""

from __future__ import annotations

from urllib.parse import urlencode

from authlib.oauth2 import OAuth2Error
from authlib.oauth2.base import invalid_error_characters
from authlib.oauth2.rfc6749.errors import InvalidClientError
from flask import url_for
from werkzeug.datastructures import MultiDict

from ..errors import error_response
from ..extensions import db
from ..models import LoginSession, User
from ..oauth import interaction
from ..oauth.server import current_server


def query(params: MultiDict, drop_prompt: str | None = None) -> str:
    """Re-encode the authorization parameters, minus one satisfied prompt value."""
    pairs = []
    for key, value in params.items(multi=True):
        if key == "prompt" and drop_prompt:
            value = " ".join(p for p in value.split() if p != drop_prompt)
            if not value:
                continue
        pairs.append((key, value))
    return urlencode(pairs)


def _unquotable(params: MultiDict) -> str | None:
    """Authlib quotes these values in its error descriptions, which RFC 6749
    §4.1.2.1 limits to printable ASCII without ``"`` and ``\\``; anything else
    is refused here, plainly, instead of failing inside Authlib."""
    for name in ("response_type", "redirect_uri"):
        if (value := params.get(name)) and invalid_error_characters(value):
            return f"'{name}' contains characters that are not allowed."
    return None


def authorization_error(error: OAuth2Error):
    """An error before the client and redirect URI are trusted is a page, never a redirect."""
    if isinstance(error, InvalidClientError):
        return error_response(401, error.description or "Unknown client.", "invalid_client")
    server = current_server()
    request = server.create_oauth2_request(None)
    if error.redirect_uri:
        return server.handle_error_response(request, error)
    if server.query_client(request.payload.client_id) is None:
        # Authlib checks response_type before the client: still an unknown client.
        return error_response(401, "Unknown client.", "invalid_client")
    return error_response(400, error.description or "Invalid request.", error.error)


def proceed(grant, step: interaction.Step, user: User | None,
            login_session: LoginSession | None, params: MultiDict):
    """Send the browser to the next step, or answer the client."""
    from ._request import see_other

    if step.kind == interaction.LOGIN:
        return see_other(url_for("auth.login", next="/oauth/authorize?" + query(params, "login")))
    if step.kind == interaction.SELECT_ORG:
        return see_other(url_for("orgs.select_org") + "?" + query(params, "select_account"))
    if step.kind == interaction.CONSENT:
        return see_other(url_for("consent.consent") + "?" + query(params))
    if step.kind == interaction.FORBIDDEN:
        return error_response(403, step.message, "access_denied")
    grant.request.login_session = login_session
    grant.request.org_id = step.org_id
    response = current_server().create_authorization_response(grant=grant, grant_user=user)
    db.session.commit()
    return response


def resume(params: MultiDict, user: User | None, login_session: LoginSession | None,
           *, allow: tuple[str, ...] | None = None):
    """Validate the request again; return ``(grant, step)``, or a response to send instead.

    A page that can only serve some steps names them in ``allow``; any other
    step is carried out at once.
    """
    if problem := _unquotable(params):
        return None, error_response(400, problem, "invalid_request")
    try:
        grant = current_server().get_consent_grant(end_user=user)
        try:
            step = interaction.next_step(grant, user, login_session)
        except OAuth2Error as error:
            error.state = grant.request.payload.state  # as Authlib does for its own errors
            raise
    except OAuth2Error as error:
        db.session.rollback()
        return None, authorization_error(error)
    if allow is not None and step.kind not in allow:
        return None, proceed(grant, step, user, login_session, params)
    return (grant, step), None
