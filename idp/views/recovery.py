"""``/password/forgot`` and ``/password/reset/<token>``: getting back in by mail.

Rules (the service's are in ``services.recovery``):
- the forgot page answers the same page whatever the address, and is
  rate-limited per address and per address asked for;
- a bad link (expired, used, forged) gets a page saying so and how to get a new
  one, never the form; the form's errors are next to their fields;
- after the reset the person signs in with the new password (every session of
  theirs was ended, this browser's too).
"""

from __future__ import annotations

from flask import Blueprint, redirect, render_template, url_for
from flask.typing import ResponseReturnValue

from .. import i18n
from ..forms.auth import ForgotPasswordForm, ResetPasswordForm
from ..security import ratelimit
from ..services import FieldError, recovery
from ._request import origin, renew_session

bp = Blueprint("recovery", __name__, url_prefix="/password")


@bp.route("/forgot", methods=["GET", "POST"])
@ratelimit.reset_link
def forgot() -> ResponseReturnValue:
    form = ForgotPasswordForm()
    if form.validate_on_submit():
        recovery.request_link(form.email.data, origin())
        return render_template("auth/forgot_sent.html", email=form.email.data)
    return render_template("auth/forgot.html", form=form), 400 if form.errors else 200


@bp.route("/reset/<token>", methods=["GET", "POST"])
def reset(token: str) -> ResponseReturnValue:
    try:
        user = recovery.user_of(token)
    except recovery.BadLink as problem:
        return render_template("auth/reset_bad.html", message=problem.shown()), 400
    form = ResetPasswordForm()
    if form.validate_on_submit():
        try:
            recovery.reset(token, form.password.data, origin())
        except FieldError as problem:
            form.password.errors = [problem.shown()]
        else:
            renew_session()
            return redirect(url_for("auth.login", reason="reset",
                                    ui_locales=i18n.carried()), 303)
    return render_template("auth/reset.html", form=form, user=user, token=token), \
        400 if form.errors else 200
