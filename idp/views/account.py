"""The account page: sessions, the applications one has allowed (and those acting for
one through another), linked upstream accounts, the password; second factors have
a page of their own (``factors.py``)."""

from __future__ import annotations

from flask import Blueprint, abort, redirect, render_template, request, url_for
from flask.typing import ResponseReturnValue
from flask_babel import gettext as _
from flask_login import login_required

from ..forms.auth import ActionForm, ChangePasswordForm, ProviderForm
from ..security import ratelimit
from ..services import (
    ServiceError,
    accounts,
    audit,
    consent,
    factors,
    grants,
    sessions,
    upstreams,
)
from ._request import origin, see_other, signed_in_now

bp = Blueprint("account", __name__, url_prefix="/account")


def _page(password_form: ChangePasswordForm | None = None, message: str | None = None,
          error: str | None = None, status: int = 200) -> ResponseReturnValue:
    user, login_session = signed_in_now()
    linked = upstreams.linked_identities(user)
    return render_template(
        "account/index.html", user=user, current=login_session,
        sessions=sessions.active_for_user(user.id), consents=consent.of_user(user),
        acting=grants.acting_for(user.id), factor_count=factors.factor_count(user),
        linked=linked, linkable=[u for u in upstreams.all_upstreams()
                                 if u.id not in {upstream.id for _, upstream in linked}],
        provider_form=ProviderForm(),
        password_form=password_form or ChangePasswordForm(), action=ActionForm(),
        message=message, error=error,
    ), status


@bp.get("")
@login_required
def index() -> ResponseReturnValue:
    done = {"password": _("Your password was changed. Your other sessions were ended, and "
                          "applications signed in with the old password must sign in again."),
            "revoked": _("Access withdrawn."),
            "linked": _("Linked. You can sign in with it from now on."),
            "unlinked": _("Unlinked."),
            "ended": _("Session ended."),
            "verify": _("A confirmation link is on its way to your address."),
            "joined": _("You joined the organization.")}
    return _page(message=done.get(request.args.get("done", "")))


@bp.post("/password")
@login_required
@ratelimit.password_check
def change_password() -> ResponseReturnValue:
    form = ChangePasswordForm()
    if not form.validate_on_submit():
        return _page(form, status=400)
    user, login_session = signed_in_now()

    def change() -> bool:
        try:
            accounts.change_password(user, form.current_password.data, form.new_password.data,
                                     keep_sid=login_session.sid, origin=origin())
        except accounts.WrongPassword:
            return False
        return True

    try:
        changed = ratelimit.checked_password(user.username, change)
    except ServiceError as problem:
        return _page(form, error=problem.shown(), status=400)
    if not changed:
        return _page(form, error=_("The current password is wrong."), status=400)
    return see_other(url_for("account.index", done="password"))


@bp.post("/consents/<client_id>/revoke")
@login_required
def revoke_consent(client_id: str) -> ResponseReturnValue:
    if not ActionForm().validate_on_submit():
        abort(400)
    user, _session = signed_in_now()
    if not consent.revoke(user, client_id, origin()):
        abort(404)
    return see_other(url_for("account.index", done="revoked"))


@bp.post("/sessions/<sid>/end")
@login_required
def end_session(sid: str) -> ResponseReturnValue:
    if not ActionForm().validate_on_submit():
        abort(400)
    user, current = signed_in_now()
    if sid not in {s.sid for s in sessions.active_for_user(user.id)}:
        abort(404)
    sessions.end(sid, origin(), user_id=user.id)
    if sid == current.sid:
        return redirect(url_for("auth.logout"))
    return see_other(url_for("account.index", done="ended"))


@bp.post("/acting/<grant_id>/revoke")
@login_required
def revoke_acting(grant_id: str) -> ResponseReturnValue:
    """Stop an application acting for the user (a token exchange) and what it derived."""
    if not ActionForm().validate_on_submit():
        abort(400)
    user, _session = signed_in_now()
    if grant_id not in {g.id for g, _actor, _subject in grants.acting_for(user.id)}:
        abort(404)
    grants.revoke_grant(grant_id)
    audit.record("token.exchange_revoked", origin(), user_id=user.id, grant_id=grant_id)
    return see_other(url_for("account.index", done="revoked"))


@bp.post("/upstreams/<upstream_id>/unlink")
@login_required
def unlink_upstream(upstream_id: str) -> ResponseReturnValue:
    """Stop signing in with an upstream account (never the last way in)."""
    if not ActionForm().validate_on_submit():
        abort(400)
    user, _session = signed_in_now()
    try:
        upstreams.unlink(user, upstream_id, origin())
    except ServiceError as problem:
        return _page(error=problem.shown(), status=400)
    return see_other(url_for("account.index", done="unlinked"))
