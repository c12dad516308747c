"""The consent page: the client's name, each scope in plain words, Allow or Deny."""

from __future__ import annotations

from flask import Blueprint, render_template, request

from ..extensions import db
from ..forms.auth import ConsentForm
from ..oauth import interaction
from ..oauth.claims import describe_scope
from ..oauth.server import current_server
from ..services import audit, orgs
from ..services import consent as consents
from ._authorize import proceed, resume
from ._request import origin, signed_in

bp = Blueprint("consent", __name__)


@bp.route("/consent", methods=["GET", "POST"])
def consent():
    params = request.args
    user, login_session = signed_in()
    resumed, failure = resume(params, user, login_session, allow=(interaction.CONSENT,))
    if failure is not None:
        return failure
    grant, step = resumed
    client = grant.request.client
    form = ConsentForm()
    if form.validate_on_submit():
        if form.decision.data == "deny":
            audit.record("consent.denied", origin(), user_id=user.id, client_id=client.client_id)
            db.session.commit()
            return current_server().create_authorization_response(grant=grant, grant_user=None)
        consents.grant(user, client, grant.request.scope, origin())
        return proceed(grant, interaction.Step(interaction.ISSUE, step.org_id), user,
                       login_session, params)
    org = orgs.find_org(step.org_id) if step.org_id else None
    scopes = [(s, describe_scope(s)) for s in grant.request.scope.split()]
    return render_template("consent/consent.html", form=form, client=client, scopes=scopes,
                           user=user, org=org, action=request.full_path)
