"""The organization page: one button per organization the user belongs to."""

from __future__ import annotations

from flask import Blueprint, render_template, request, url_for

from ..extensions import db
from ..forms.auth import SelectOrgForm
from ..oauth import interaction
from ..services import audit, orgs
from ._authorize import proceed, query, resume
from ._request import origin, see_other, signed_in

bp = Blueprint("orgs", __name__)


@bp.route("/select-org", methods=["GET", "POST"])
def select_org():
    params = request.args
    user, login_session = signed_in()
    # The page is shown whenever the person is signed in and the client is not
    # bound to one organization: ``prompt=select_account`` was already dropped
    # from the parameters it carries, and a remembered choice does not skip it.
    resumed, failure = resume(params, user, login_session, allow=(
        interaction.SELECT_ORG, interaction.CONSENT, interaction.ISSUE))
    if failure is not None:
        return failure
    grant, step = resumed
    memberships = orgs.memberships(user.id)
    if not memberships or grant.request.client.org_id:
        return proceed(grant, step, user, login_session, params)
    form = SelectOrgForm()
    error = None
    if form.validate_on_submit():
        chosen = next((m for m in memberships if m.org.slug == form.org.data), None)
        if chosen is not None:
            login_session.org_id = chosen.org_id
            audit.record("org.selected", origin(), user_id=user.id,
                         client_id=grant.request.client.client_id, org_id=chosen.org_id)
            db.session.commit()
            return see_other(url_for("oauth.authorize") + "?" + query(params))
        error = "Choose one of your organizations."
    return render_template("orgs/select.html", form=form, memberships=memberships,
                           client=grant.request.client, user=user, error=error,
                           action=request.full_path), 400 if error else 200
