"""The account's second factors (``/account/mfa``): authenticator app, passkeys,
recovery codes.

Rules:
- a user who has a second factor manages factors only from a session that
  proved one (``acr`` 2; else ``/login/mfa`` first, a step-up);
- removing the last factor, or making new recovery codes, needs a sign-in no
  older than ``IDP_REAUTH_SECONDS`` (else the login page, then back here);
- a factor enrolled here counts for this session at once (``acr`` 2), which
  is how an interaction owing a second factor to a user without one goes on
  (``?interaction=``, the ``ENROL`` step);
- the first factor comes with ten recovery codes; codes are shown once, after
  the change that made them, and kept in the browser's session only sealed;
- removing a factor ends the user's other sessions; with the last one go the
  recovery codes; every change is an audit event.
"""

from __future__ import annotations

import json
from functools import wraps
from typing import Any

import segno
from flask import Blueprint, abort, current_app, render_template, request, session, url_for
from flask.typing import ResponseReturnValue
from flask_babel import gettext as _
from flask_babel import lazy_gettext as _l
from flask_login import login_required
from markupsafe import Markup
from werkzeug.wrappers import Response

from ..clock import now
from ..forms.auth import ActionForm, CodeForm, PasskeyNameForm
from ..models import User
from ..oauth import interaction
from ..security import ratelimit, sealing
from ..services import ServiceError, audit, factors, sessions
from . import _passkeys
from ._request import origin, person, see_other, signed_in_now

bp = Blueprint("factors", __name__, url_prefix="/account/mfa")

CODES_TO_SHOW = "recovery_codes"  # the browser's session key: new codes, sealed, shown once
SHOWING = "recovery codes shown once"
DONE = {
    "totp": _l("Your authenticator app is set up."),
    "totp_removed": _l("The authenticator app was removed."),
    "passkey": _l("Your passkey is registered."),
    "renamed": _l("Renamed."),
    "passkey_removed": _l("The passkey was removed."),
    "codes": _l("New recovery codes were made; the old ones no longer work."),
}


def managing(view: Any) -> Any:
    """A page of this blueprint: signed in, and with two factors if the user has two."""

    @wraps(view)
    def checked(*args: Any, **kwargs: Any) -> ResponseReturnValue:
        user, login_session = signed_in_now()
        if login_session.acr != "2" and factors.has_second_factor(user):
            return see_other(url_for("auth.second_factor", next=url_for("factors.index")))
        return view(*args, **kwargs)

    return login_required(checked)


@bp.get("")
@managing
def index() -> ResponseReturnValue:
    return _page(message=DONE.get(request.args.get("done", "")))


@bp.post("/totp")
@managing
def start_totp() -> ResponseReturnValue:
    if not ActionForm().validate_on_submit():
        abort(400)
    user, _session = signed_in_now()
    try:
        factors.start_totp(user)
    except ServiceError as problem:
        return _page(error=problem.shown(), status=400)
    return see_other(_here())


@bp.post("/totp/confirm")
@managing
@ratelimit.password_check
def confirm_totp() -> ResponseReturnValue:
    form = CodeForm()
    if not form.validate_on_submit():
        return _page(code_form=form, status=400)
    user, _session = signed_in_now()
    try:
        confirmed = ratelimit.checked_password(user.username,
                                               lambda: _confirmed(user, form.code.data))
    except ServiceError as problem:  # nothing to confirm
        return _page(code_form=form, error=problem.shown(), status=400)
    if not confirmed:
        return _page(code_form=form, status=400, error=_(
            "That code is not right. Check that the time on your phone is correct, "
            "and type the code the app shows now."))
    _enrolled(user, ["otp"], "mfa.totp_added")
    return see_other(_here(done="totp"))


@bp.post("/totp/remove")
@managing
def remove_totp() -> ResponseReturnValue:
    if not ActionForm().validate_on_submit():
        abort(400)
    user, _session = signed_in_now()
    if (stale := _needs_fresh_sign_in(user, last=factors.factor_count(user) <= 1)):
        return stale
    if factors.remove_totp(user):
        _removed(user, "mfa.totp_removed")
    return see_other(_here(done="totp_removed"))


@bp.post("/passkeys")
@managing
def register_passkey() -> ResponseReturnValue:
    """``?options`` for the browser's ``navigator.credentials.create``, then its answer."""
    user, _session = signed_in_now()
    if "options" in request.args:
        return _passkeys.options("registration", factors.registration_options(user))
    try:
        answer = _passkeys.answer("registration")
        passkey = factors.register_passkey(user, answer.credential, answer.challenge,
                                           answer.name)
    except ServiceError as problem:
        return _passkeys.refused(problem)
    _enrolled(user, [factors.key_method(passkey)], "mfa.passkey_added", passkey=passkey.name)
    return _passkeys.go_on(_here(done="passkey"))


@bp.post("/passkeys/<passkey_id>/rename")
@managing
def rename_passkey(passkey_id: str) -> ResponseReturnValue:
    form = PasskeyNameForm()
    if not form.validate_on_submit():
        return _page(error=_("Give the passkey a name (up to 100 characters)."), status=400)
    user, _session = signed_in_now()
    try:
        factors.rename_passkey(user, passkey_id, form.name.data)
    except ServiceError:
        abort(404)
    audit.record("mfa.passkey_renamed", origin(), user_id=user.id, passkey=passkey_id)
    return see_other(_here(done="renamed"))


@bp.post("/passkeys/<passkey_id>/remove")
@managing
def remove_passkey(passkey_id: str) -> ResponseReturnValue:
    if not ActionForm().validate_on_submit():
        abort(400)
    user, _session = signed_in_now()
    if (stale := _needs_fresh_sign_in(user, last=factors.factor_count(user) <= 1)):
        return stale
    try:
        factors.remove_passkey(user, passkey_id)
    except ServiceError:
        abort(404)
    _removed(user, "mfa.passkey_removed", passkey=passkey_id)
    return see_other(_here(done="passkey_removed"))


@bp.post("/recovery-codes")
@managing
def new_recovery_codes() -> ResponseReturnValue:
    if not ActionForm().validate_on_submit():
        abort(400)
    user, _session = signed_in_now()
    if not factors.has_second_factor(user):
        return _page(error=_("Set up an authenticator app or a passkey first."), status=400)
    if (stale := _needs_fresh_sign_in(user, last=factors.has_recovery_codes(user))):
        return stale
    _show_once(factors.regenerate_recovery_codes(user))
    audit.record("mfa.recovery_codes_made", origin(), user_id=user.id)
    return see_other(_here(done="codes"))


# -- helpers --------------------------------------------------------------------------------


def _page(code_form: CodeForm | None = None, message: str | None = None,
          error: str | None = None, status: int = 200) -> ResponseReturnValue:
    user, _session = signed_in_now()
    pending = _pending()
    totp = factors.totp_of(user)
    # The interaction that sent the user here, once a factor is set up, goes on.
    resume = pending.location if isinstance(pending, Response) and pending.location else None
    enrolment = factors.pending_totp(user) if totp and not totp.confirmed_at else None
    codes = _shown_once()
    return render_template(
        "account/mfa.html", user=user, message=message, error=error,
        totp=totp if totp and totp.confirmed_at else None, enrolment=enrolment,
        qr=_qr(enrolment.uri) if enrolment else None,
        passkeys=factors.passkeys_of(user), codes=codes,
        codes_left=factors.recovery_codes_left(user),
        has_factor=factors.has_second_factor(user),
        code_form=code_form or CodeForm(), action=ActionForm(), name_form=PasskeyNameForm(),
        pending=pending if not isinstance(pending, Response) else None, resume=resume,
        secret=" ".join(enrolment.secret[i:i + 4] for i in range(0, len(enrolment.secret), 4))
        if enrolment else None,
        here_params=_interaction_param(),
    ), status


def _pending() -> interaction.Pending | Response | None:
    """The interaction that sent the user here to enrol a factor (``?interaction=``)."""
    if (interaction_id := request.args.get("interaction")) is None:
        return None
    return interaction.open_page(interaction_id, interaction.ENROL, person())


def _interaction_param() -> dict[str, Any]:
    interaction_id = request.args.get("interaction")
    return {"interaction": interaction_id[:64]} if interaction_id else {}


def _here(**params: Any) -> str:
    """This page again, keeping the interaction it serves."""
    return url_for("factors.index", **params, **_interaction_param())


def _confirmed(user: User, code: str) -> bool:
    try:
        factors.confirm_totp(user, code)
    except factors.FactorError:
        return False
    return True


def _enrolled(user: User, amr: list[str], tag: str, **details: str) -> None:
    """A factor was added: it counts for this session; the first brings recovery codes."""
    _user, login_session = signed_in_now()
    if not factors.has_recovery_codes(user):
        _show_once(factors.regenerate_recovery_codes(user))
    sessions.strengthen(login_session, amr, origin())
    audit.record(tag, origin(), user_id=user.id, **details)


def _removed(user: User, tag: str, **details: str) -> None:
    _user, login_session = signed_in_now()
    if not factors.has_second_factor(user):
        factors.remove_recovery_codes(user)
    sessions.end_all_for_user(user.id, keep_sid=login_session.sid, origin=origin())
    audit.record(tag, origin(), user_id=user.id, **details)


def _needs_fresh_sign_in(user: User, *, last: bool) -> Response | None:
    _user, login_session = signed_in_now()
    if not last or now() - login_session.auth_time <= int(
            current_app.config["IDP_REAUTH_SECONDS"]):
        return None
    return see_other(url_for("auth.login", next=url_for("factors.index"), reason="fresh"))


def _show_once(codes: list[str]) -> None:
    session[CODES_TO_SHOW] = sealing.seal(SHOWING, json.dumps(codes))


def _shown_once() -> list[str] | None:
    sealed = session.pop(CODES_TO_SHOW, None)
    if not isinstance(sealed, str):
        return None
    try:
        codes = json.loads(sealing.unseal(SHOWING, sealed))
    except (sealing.Unsealable, ValueError):
        return None
    return [str(c) for c in codes] if isinstance(codes, list) else None


def _qr(uri: str) -> Markup:
    """The otpauth URI as an inline SVG (made here: the secret goes to no one else)."""
    svg = segno.make(uri, error="m").svg_inline(scale=4, title=_("QR code for your app"))
    return Markup(svg)  # noqa: S704 - segno's own SVG of a URI it escaped
