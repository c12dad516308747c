"""``/email/verify/<token>``: the mailed link that verifies an address, and the
account page's button that sends it."""

from __future__ import annotations

from flask import Blueprint, abort, render_template, url_for
from flask.typing import ResponseReturnValue
from flask_babel import gettext as _
from flask_login import login_required

from ..forms.auth import ActionForm
from ..services import verification
from ._request import origin, see_other, signed_in_now

bp = Blueprint("verification", __name__)


@bp.get("/email/verify/<token>")
def verify(token: str) -> ResponseReturnValue:
    try:
        user = verification.verify(token, origin())
    except verification.BadLink as problem:
        return render_template("auth/reset_bad.html", message=problem.shown(),
                               title=_("This link does not work"), retry=False), 400
    return render_template("auth/verified.html", user=user)


@bp.post("/account/email/verify")
@login_required
def send() -> ResponseReturnValue:
    if not ActionForm().validate_on_submit():
        abort(400)
    user, _session = signed_in_now()
    if not user.email_verified:
        verification.send_link(user, origin())
    return see_other(url_for("account.index", done="verify"))
