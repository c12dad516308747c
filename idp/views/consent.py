"""The consent page: the client's name, each scope in plain words, Allow or Deny."""

from __future__ import annotations

from flask import Blueprint, render_template, request
from werkzeug.wrappers import Response

from ..forms.auth import ConsentForm
from ..oauth import interaction
from ..oauth.claims import describe_scope, without_privileges
from ..services import audit, orgs
from ..services import consent as consents
from ._request import origin, person

bp = Blueprint("consent", __name__)


@bp.route("/consent", methods=["GET", "POST"])
def consent():
    pending = interaction.open_page(request.args.get("interaction"), interaction.CONSENT,
                                    person())
    if isinstance(pending, Response):
        return pending
    user, client = pending.user, pending.client
    form = ConsentForm()
    if form.validate_on_submit():
        if form.decision.data == "deny":
            audit.record("consent.denied", origin(), user_id=user.id, client_id=client.client_id)
            return interaction.consent_refused(pending)
        consents.grant(user, client, pending.scope, origin())
        return interaction.consent_given(pending)
    org = orgs.find_org(pending.step.org_id) if pending.step.org_id else None
    membership = orgs.membership(user.id, org.id) if org is not None else None
    scopes = [(s, describe_scope(s)) for s in without_privileges(pending.scope, user).split()]
    return render_template("consent/consent.html", form=form, client=client, scopes=scopes,
                           user=user, org=org, role=membership.role if membership else None,
                           interaction=pending.id)
