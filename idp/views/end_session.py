"""RP-initiated logout: ``/oauth/logout``, the discovery document's end_session_endpoint."""

from __future__ import annotations

from authlib.oauth2 import OAuth2Error
from flask import Blueprint, redirect, render_template, request
from flask_login import logout_user

from ..errors import error_response
from ..extensions import csrf
from ..i18n import N_
from ..oauth import end_session as rules
from ..oauth.server import current_server
from ..services import sessions
from ._request import origin, renew_session, signed_in

bp = Blueprint("end_session", __name__)
csrf.exempt(bp)  # relying parties post here; the confirmation form is checked below

CARRIED = ("client_id", "post_logout_redirect_uri", "state", "ui_locales", "logout_hint")


@bp.route("/oauth/logout", methods=["GET", "POST"])
def end_session():
    confirming = rules.confirmed()
    if confirming:
        csrf.protect()  # the confirmation is our own form (the blueprint is exempt)
    try:
        validated = current_server().validate_endpoint_request("end_session")
    except OAuth2Error as error:
        return error_response(400, error.description or N_("Invalid logout request."), error.error,
                              as_json=False, plain=N_("The application asked to sign you out in "
                                                      "a way this service cannot accept."))
    user, login_session = signed_in()
    client = validated.client
    if login_session is None:
        if validated.redirect_uri and validated.id_token_claims:
            return redirect(validated.redirect_uri, 303 if confirming else 302)
        return render_template("auth/logged_out.html", already=True, client=client,
                               return_to=rules.return_link(validated))
    if not confirming and not rules.names_session(validated, login_session):
        carried = {k: request.values[k] for k in CARRIED if request.values.get(k)}
        return render_template("auth/logout_confirm.html", user=user, carried=carried,
                               client=client)
    sessions.end(login_session.sid, origin(), user_id=login_session.user_id)
    logout_user()
    renew_session()
    if validated.redirect_uri:
        return redirect(validated.redirect_uri, 303 if confirming else 302)
    return render_template("auth/logged_out.html", client=client)
