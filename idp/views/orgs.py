"""The organization page: one button per organization the user belongs to."""

from __future__ import annotations

from flask import Blueprint, render_template, request, url_for

from ..extensions import db
from ..forms.auth import SelectOrgForm
from ..oauth import interaction
from ..services import audit, orgs
from ._authorize import query, resume
from ._request import origin, see_other, signed_in

bp = Blueprint("orgs", __name__)


@bp.route("/select-org", methods=["GET", "POST"])
def select_org():
    params = request.args
    user, login_session = signed_in()
    resumed, failure = resume(params, user, login_session, allow_step=interaction.SELECT_ORG)
    if failure is not None:
        return failure
    grant, _ = resumed
    memberships = orgs.memberships(user.id)
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
