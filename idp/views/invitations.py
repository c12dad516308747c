"""``/invite/<token>`` (join an organization, creating the account if needed) and
``/signup`` (when ``IDP_SIGNUP`` is ``open``).

Rules (the service's are in ``services.invitations``):
- a bad invitation gets a page saying so; a field's error is next to it;
- after joining or signing up, the person signs in (a new account's address is
  confirmed by a mailed link; an invitation's is confirmed by the invitation);
- ``/signup`` is 404 while sign-up is off, and says "by invitation" in that mode.
"""

from __future__ import annotations

from flask import Blueprint, abort, redirect, render_template, request, url_for
from flask.typing import ResponseReturnValue
from flask_wtf import FlaskForm
from wtforms import Field

from .. import i18n
from ..forms.auth import AcceptInvitationForm, ActionForm, SignUpForm
from ..security import ratelimit
from ..services import FieldError, ServiceError, invitations, upstreams
from ._request import origin, signed_in

bp = Blueprint("invitations", __name__)


def _field_error(form: FlaskForm, error: FieldError) -> None:
    """The error next to its field; one the form has no field for goes above it (and the
    answer is a 400 either way: nothing was made)."""
    field = getattr(form, error.field, None)
    if isinstance(field, Field):
        field.errors = [error.shown()]
    else:
        form.form_errors.append(error.shown())


def _bad_link(problem: ServiceError) -> ResponseReturnValue:
    return render_template("auth/reset_bad.html", message=problem.shown(), retry=False), 400


@bp.route("/invite/<token>", methods=["GET", "POST"])
def accept(token: str) -> ResponseReturnValue:
    try:
        invitation = invitations.read(token)
    except invitations.BadLink as problem:
        return _bad_link(problem)
    owner = invitation.user  # an account has the address: it only joins
    joining = owner is not None
    user, _session = signed_in()
    if owner is not None and (user is None or user.id != owner.id):
        # Its owner joins signed in to it; the sign-in comes back here.
        return render_template("auth/invitation.html", invitation=invitation, token=token,
                               sign_in_first=url_for("auth.login", next=request.path))
    form = ActionForm() if joining else AcceptInvitationForm()
    if form.validate_on_submit():
        try:
            if isinstance(form, AcceptInvitationForm):
                invitations.accept(token, origin(), username=form.username.data,
                                   password=form.password.data)
            else:
                invitations.accept(token, origin(), signed_in=user)
                return redirect(url_for("account.index", done="joined"), 303)
        except FieldError as problem:
            _field_error(form, problem)
        except ServiceError as problem:
            return _bad_link(problem)
        else:
            return redirect(url_for("auth.login", reason="joined"), 303)
    # A new account may come from an upstream provider instead: its sign-in makes the
    # account (with the address it shares) and comes back here to join.
    providers = [] if joining else [u.name for u in upstreams.all_upstreams() if u.create_users]
    return render_template("auth/invitation.html", form=form, invitation=invitation,
                           joining=joining, token=token, providers=providers,
                           upstream_sign_in=url_for("auth.login", next=request.path)
                           ), 400 if form.errors else 200


@bp.route("/signup", methods=["GET", "POST"])
@ratelimit.reset_link  # it mails: as many as asking for a reset link, per address
def signup() -> ResponseReturnValue:
    mode = invitations.signup_mode()
    if mode == "off":
        abort(404)
    if mode == "invite":
        return render_template("auth/signup.html", form=None)
    form = SignUpForm()
    if form.validate_on_submit():
        try:
            invitations.sign_up(form.email.data, origin())
        except FieldError as problem:
            _field_error(form, problem)
        else:
            return render_template("auth/signup_sent.html", email=form.email.data)
    return render_template("auth/signup.html", form=form), 400 if form.errors else 200


@bp.route("/signup/confirm/<token>", methods=["GET", "POST"])
def confirm_signup(token: str) -> ResponseReturnValue:
    """The mailed link: the address's owner chooses a username and a password."""
    if invitations.signup_mode() != "open":
        abort(404)
    try:
        email = invitations.sign_up_address(token)
    except invitations.BadLink as problem:
        return _bad_link(problem)
    form = AcceptInvitationForm()
    if form.validate_on_submit():
        try:
            invitations.confirm_sign_up(token, form.username.data, form.password.data,
                                        origin())
        except FieldError as problem:
            _field_error(form, problem)
        except invitations.BadLink as problem:
            return _bad_link(problem)
        else:
            return redirect(url_for("auth.login", reason="signed-up",
                                    ui_locales=i18n.carried()), 303)
    return render_template("auth/signup_confirm.html", form=form, email=email, token=token), \
        400 if form.errors else 200
