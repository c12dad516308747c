"""Sign-in and sign-out pages: the password, the second factor, passkeys.

Rules:
- the password is a first factor (``_signin.first_factor_proven``): a user with
  a second factor goes on to ``/login/mfa``, which takes a code, a recovery
  code or a passkey;
- ``/login/mfa`` also serves a signed-in session with one factor that now
  needs two (a step-up: the interaction sends it, or the account page);
- "Sign in with a passkey" is a whole sign-in when the authenticator verified
  the user (``acr`` 2);
- each of them is limited like a password (``ratelimit.secret_check``).
"""

from __future__ import annotations

from flask import Blueprint, current_app, render_template, request, session, url_for
from flask.typing import ResponseReturnValue
from flask_babel import gettext as _
from flask_login import logout_user
from werkzeug.wrappers import Response

from ..errors import error_response
from ..forms.auth import CodeForm, LoginForm, LogoutForm, ProviderForm
from ..i18n import N_
from ..models import User
from ..oauth import interaction
from ..security import ratelimit
from ..security.redirects import is_safe_next
from ..services import accounts, audit, factors, sessions, upstreams
from . import _passkeys
from ._request import origin, renew_session, see_other, signed_in
from ._signin import (
    HALF,
    first_factor_proven,
    half_signed_in,
    id_of,
    pending_for,
    safe_next,
    sign_in,
    signed_in_to,
)

bp = Blueprint("auth", __name__)


@bp.route("/")
def index() -> ResponseReturnValue:
    user, login_session = signed_in()
    return render_template("auth/index.html", user=user, login_session=login_session,
                           form=LogoutForm())


@bp.route("/login", methods=["GET", "POST"])
@ratelimit.login
def login() -> ResponseReturnValue:
    """Sign in: for an application's interaction (``?interaction=``), or for this site."""
    pending = pending_for(interaction.LOGIN)
    if isinstance(pending, Response):
        return pending
    next_url = request.values.get("next") if pending is None else None
    form = LoginForm(next=next_url if is_safe_next(next_url) else None)
    if request.method == "GET" and pending and (hint := pending.param("login_hint")):
        form.username.data = hint[:254]
    error = None
    password_login = bool(current_app.config["IDP_PASSWORD_LOGIN"])
    if request.method == "POST" and not password_login:
        return error_response(400, N_("Signing in with a password is turned off here."),
                              as_json=False)
    if form.validate_on_submit():
        user = ratelimit.checked_password(form.username.data, lambda: accounts.authenticate(
            form.username.data, form.password.data, origin()))
        if user is None:
            error = _("Wrong username or password.")
        else:
            return first_factor_proven(user, ["pwd"], pending, form.next.data)
    return render_template(
        "auth/login.html", form=form, error=error, password_login=password_login,
        upstreams=upstreams.all_upstreams(), provider_form=ProviderForm(),
        upstream_action=url_for("upstream.start_from_page", interaction=id_of(pending),
                                next=next_url or None),
        action=url_for("auth.login", interaction=id_of(pending), next=next_url or None),
        passkey_url=url_for("auth.passkey", interaction=id_of(pending), next=next_url or None),
        reason=request.args.get("reason"),
        client=pending.client if pending else None), 401 if error else 200


@bp.route("/login/mfa", methods=["GET", "POST"])
@ratelimit.secret_check(lambda: _second_factor_account())
def second_factor() -> ResponseReturnValue:
    """The second factor: after the password, or to step up a signed-in session."""
    user = _second_factor_user()
    pending = pending_for(interaction.LOGIN if half_signed_in() else interaction.SECOND_FACTOR)
    if isinstance(pending, Response):
        return pending
    if user is None:
        return _nothing_owed(pending)
    form, error = CodeForm(), None
    if form.validate_on_submit():
        amr = ratelimit.checked_password(user.username, lambda: _code_amr(user, form.code.data))
        if amr:
            return _proven(user, amr, pending)
        error = _("That code is not right. Codes change every 30 seconds; each works once.")
        audit.record("login.second_factor_failed", origin(), user_id=user.id)
    status = 401 if error else 400 if request.method == "POST" else 200
    has_totp = factors.totp_of(user)
    return render_template(
        "auth/mfa.html", form=form, error=error, user=user,
        client=pending.client if pending else None,
        action=url_for("auth.second_factor", interaction=id_of(pending), next=safe_next()),
        login_url=url_for("auth.login", interaction=id_of(pending), next=safe_next()),
        passkey_url=url_for("auth.second_factor_passkey", interaction=id_of(pending),
                            next=safe_next()),
        has_totp=has_totp is not None and has_totp.confirmed_at is not None,
        has_passkeys=bool(factors.passkeys_of(user)),
        has_recovery_codes=factors.has_recovery_codes(user),
    ), status


@bp.post("/login/mfa/passkey")
@ratelimit.secret_check(lambda: _second_factor_account())
def second_factor_passkey() -> ResponseReturnValue:
    """A passkey as the second factor: ``?options`` for the challenge, then the answer."""
    user = _second_factor_user()
    if user is None:
        return _passkeys.refused(factors.FactorError(N_("Sign in with your password first.")))
    if "options" in request.args:
        return _passkeys.options("second factor", factors.authentication_options(user))
    pending = pending_for(interaction.LOGIN if half_signed_in() else interaction.SECOND_FACTOR)
    if isinstance(pending, Response):
        return _as_json(pending)
    try:
        answer = _passkeys.answer("second factor")
        use = factors.verify_passkey(answer.credential, answer.challenge, user=user)
    except factors.FactorError as problem:
        audit.record("login.second_factor_failed", origin(), user_id=user.id, method="passkey")
        return _passkeys.refused(problem)
    return _passkeys.go_on(_location(_proven(user, use.amr(alone=False), pending)))


@bp.post("/login/passkey")
@ratelimit.secret_check(lambda: "passkey")
def passkey() -> ResponseReturnValue:
    """Sign in with a passkey alone (a discoverable credential, the user verified)."""
    if "options" in request.args:
        return _passkeys.options("sign-in", factors.authentication_options(None))
    pending = pending_for(interaction.LOGIN)
    if isinstance(pending, Response):
        return _as_json(pending)
    try:
        answer = _passkeys.answer("sign-in")
        use = factors.verify_passkey(answer.credential, answer.challenge, user=None)
    except factors.FactorError as problem:
        audit.record("login.failure", origin(), method="passkey", reason=str(problem))
        return _passkeys.refused(problem)
    login_session = sign_in(use.user, use.amr(alone=True), pending)
    return _passkeys.go_on(_location(signed_in_to(pending, login_session, safe_next())))


@bp.route("/logout", methods=["GET", "POST"])
def logout() -> ResponseReturnValue:
    form = LogoutForm()
    user, login_session = signed_in()
    if request.method == "POST" and form.validate_on_submit():
        if login_session is not None:
            sessions.end(login_session.sid, origin(), user_id=login_session.user_id)
        logout_user()
        renew_session()
        return render_template("auth/logged_out.html")
    if user is None:
        return render_template("auth/logged_out.html")
    return render_template("auth/logout.html", form=form, user=user)


# -- helpers --------------------------------------------------------------------------------










def _second_factor_user() -> User | None:
    """Whose second factor ``/login/mfa`` asks for: the half signed-in user, or the
    signed-in one whose session has one factor while they have a second."""
    if (half := half_signed_in()) is not None:
        return half.user
    user, login_session = signed_in()
    if user is None or login_session is None or login_session.acr == "2" \
            or not factors.has_second_factor(user):
        return None
    return user


def _code_amr(user: User, code: str) -> list[str] | None:
    if factors.verify_totp(user, code):
        return ["otp"]
    if factors.use_recovery_code(user, code):
        audit.record("mfa.recovery_code_used", origin(), user_id=user.id,
                     left=factors.recovery_codes_left(user))
        return ["otp"]
    return None


def _proven(user: User, amr: list[str], pending: interaction.Pending | None) -> Response:
    """The second factor is proven: finish the sign-in, or strengthen the session."""
    if (half := half_signed_in()) is not None:
        session.pop(HALF, None)
        return signed_in_to(pending, sign_in(user, [*half.amr, *amr, "mfa"], pending),
                            safe_next())
    _user, login_session = signed_in()
    assert login_session is not None  # _second_factor_user said so
    sessions.strengthen(login_session, amr, origin())
    if pending is not None:
        return interaction.second_factor_given(pending)
    return see_other(safe_next() or url_for("auth.index"))


def _nothing_owed(pending: interaction.Pending | None) -> Response:
    """No second factor is owed here: on to the step actually owed, or the login."""
    if pending is not None:
        return see_other(url_for("oauth.resume", interaction_id=pending.id))
    user, _session = signed_in()
    if user is not None:
        return see_other(safe_next() or url_for("auth.index"))
    return see_other(url_for("auth.login", next=safe_next()))






def _location(response: Response) -> str:
    return response.location or url_for("auth.index")


def _as_json(page: Response) -> Response:
    """What a page would answer instead of going on, for the passkey script."""
    if page.location:
        return _passkeys.go_on(page.location)
    return _passkeys.refused(factors.FactorError(
        N_("This sign-in request is no longer open. Go back to the application and start "
           "again.")))


def _second_factor_account() -> str:
    user = _second_factor_user()
    return ratelimit.account_name(user.username) if user else ""
