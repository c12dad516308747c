"""RP-initiated logout: ``/oauth/logout`` (the discovery document's end_session_endpoint)."""

from __future__ import annotations

from authlib.oauth2 import OAuth2Error
from flask import Blueprint, render_template, request, session
from flask_login import logout_user

from ..errors import error_response
from ..extensions import csrf, db
from ..oauth.end_session import confirmed
from ..oauth.server import current_server
from ..services import sessions
from ._request import origin, signed_in

bp = Blueprint("end_session", __name__)
csrf.exempt(bp)  # relying parties post here; the confirmation form is checked below

CARRIED = ("client_id", "post_logout_redirect_uri", "state", "ui_locales", "logout_hint")


@bp.route("/oauth/logout", methods=["GET", "POST"])
def end_session():
    if confirmed():
        csrf.protect()  # the confirmation is our own form (the blueprint is exempt)
    server = current_server()
    try:
        validated = server.validate_endpoint_request("end_session")
    except OAuth2Error as error:
        db.session.rollback()
        return error_response(400, error.description or "Invalid logout request.", error.error)
    user, login_session = signed_in()
    if validated.needs_confirmation and not confirmed():
        carried = {k: request.values[k] for k in CARRIED if request.values.get(k)}
        client = validated.client
        return render_template("auth/logout_confirm.html", user=user, carried=carried,
                               client=client)
    response = server.create_endpoint_response("end_session", validated)
    if login_session is not None:
        sessions.end(login_session.sid, origin(), user_id=login_session.user_id)
    db.session.commit()
    logout_user()
    session.clear()
    return response or render_template("auth/logged_out.html")
