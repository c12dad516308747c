"""The organization page: one button per organization the user belongs to."""

from __future__ import annotations

from flask import Blueprint, render_template, request
from flask_babel import gettext as _
from werkzeug.wrappers import Response

from ..forms.auth import SelectOrgForm
from ..oauth import interaction
from ..services import audit, orgs
from ._request import origin, person

bp = Blueprint("orgs", __name__)


@bp.route("/select-org", methods=["GET", "POST"])
def select_org():
    pending = interaction.open_page(request.args.get("interaction"), interaction.SELECT_ORG,
                                    person())
    if isinstance(pending, Response):
        return pending
    user = pending.user
    memberships = orgs.memberships(user.id)
    form = SelectOrgForm()
    error = None
    if form.validate_on_submit():
        chosen = next((m for m in memberships if m.org.slug == form.org.data), None)
        if chosen is not None:
            audit.record("org.selected", origin(), user_id=user.id,
                         client_id=pending.client.client_id, org_id=chosen.org_id)
            return interaction.org_chosen(pending, chosen.org_id)
        error = _("Choose one of your organizations.")
    return render_template("orgs/select.html", form=form, memberships=memberships,
                           client=pending.client, user=user, error=error,
                           interaction=pending.id), 400 if error else 200
