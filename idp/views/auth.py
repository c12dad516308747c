"""Sign-in and sign-out pages: the password, the second factor, passkeys.

Rules:
- a password alone signs in a user without a second factor; one with a factor
  is only half signed in (their id and the time, in the browser's session, for
  ``IDP_INTERACTION_TTL`` seconds) until ``/login/mfa`` has a code, a
  recovery code or a passkey; only then does a login session begin;
- ``/login/mfa`` also serves a signed-in session with one factor that now
  needs two (a step-up: the interaction sends it, or the account page);
- "Sign in with a passkey" is a whole sign-in when the authenticator verified
  the user (``acr`` 2);
- each of them is limited like a password (``ratelimit.secret_check``).
"""

from __future__ import annotations

from flask import Blueprint, current_app, render_template, request, session, url_for
from flask.typing import ResponseReturnValue
from flask_login import login_user, logout_user
from werkzeug.wrappers import Response

from ..clock import now
from ..forms.auth import CodeForm, LoginForm, LogoutForm
from ..models import LoginSession, User, by_key
from ..oauth import interaction
from ..security import ratelimit
from ..security.redirects import is_safe_next
from ..services import accounts, audit, factors, sessions
from . import _passkeys
from ._request import origin, person, renew_session, see_other, signed_in

bp = Blueprint("auth", __name__)

HALF = "half_signed_in"  # the browser's session key: the password proven, a factor owed


@bp.route("/")
def index() -> ResponseReturnValue:
    user, login_session = signed_in()
    return render_template("auth/index.html", user=user, login_session=login_session,
                           form=LogoutForm())


@bp.route("/login", methods=["GET", "POST"])
@ratelimit.login
def login() -> ResponseReturnValue:
    """Sign in: for an application's interaction (``?interaction=``), or for this site."""
    pending = _pending(interaction.LOGIN)
    if isinstance(pending, Response):
        return pending
    next_url = request.values.get("next") if pending is None else None
    form = LoginForm(next=next_url if is_safe_next(next_url) else None)
    if request.method == "GET" and pending and (hint := pending.param("login_hint")):
        form.username.data = hint[:254]
    error = None
    if form.validate_on_submit():
        user = ratelimit.checked_password(form.username.data, lambda: accounts.authenticate(
            form.username.data, form.password.data, origin()))
        if user is None:
            error = "Wrong username or password."
        elif factors.has_second_factor(user):
            session[HALF] = {"user": user.id, "at": now()}
            return see_other(url_for("auth.second_factor", interaction=_id(pending),
                                     next=form.next.data or None))
        else:
            return _signed_in_to(pending, _sign_in(user, ["pwd"], pending), form.next.data)
    return render_template(
        "auth/login.html", form=form, error=error,
        action=url_for("auth.login", interaction=_id(pending), next=next_url or None),
        passkey_url=url_for("auth.passkey", interaction=_id(pending), next=next_url or None),
        reason=request.args.get("reason"),
        client=pending.client if pending else None), 401 if error else 200


@bp.route("/login/mfa", methods=["GET", "POST"])
@ratelimit.secret_check(lambda: _second_factor_account())
def second_factor() -> ResponseReturnValue:
    """The second factor: after the password, or to step up a signed-in session."""
    user = _second_factor_user()
    pending = _pending(interaction.LOGIN if _half_signed_in() else interaction.SECOND_FACTOR)
    if isinstance(pending, Response):
        return pending
    if user is None:
        return _nothing_owed(pending)
    form, error = CodeForm(), None
    if form.validate_on_submit():
        amr = ratelimit.checked_password(user.username, lambda: _code_amr(user, form.code.data))
        if amr:
            return _proven(user, amr, pending)
        error = "That code is not right. Codes change every 30 seconds; each works once."
        audit.record("login.second_factor_failed", origin(), user_id=user.id)
    status = 401 if error else 400 if request.method == "POST" else 200
    has_totp = factors.totp_of(user)
    return render_template(
        "auth/mfa.html", form=form, error=error, user=user,
        client=pending.client if pending else None,
        action=url_for("auth.second_factor", interaction=_id(pending), next=_next()),
        login_url=url_for("auth.login", interaction=_id(pending), next=_next()),
        passkey_url=url_for("auth.second_factor_passkey", interaction=_id(pending),
                            next=_next()),
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
        return _passkeys.refused(factors.FactorError("Sign in with your password first."))
    if "options" in request.args:
        return _passkeys.options("second factor", factors.authentication_options(user))
    pending = _pending(interaction.LOGIN if _half_signed_in() else interaction.SECOND_FACTOR)
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
    pending = _pending(interaction.LOGIN)
    if isinstance(pending, Response):
        return _as_json(pending)
    try:
        answer = _passkeys.answer("sign-in")
        use = factors.verify_passkey(answer.credential, answer.challenge, user=None)
    except factors.FactorError as problem:
        audit.record("login.failure", origin(), method="passkey", reason=str(problem))
        return _passkeys.refused(problem)
    login_session = _sign_in(use.user, use.amr(alone=True), pending)
    return _passkeys.go_on(_location(_signed_in_to(pending, login_session, _next())))


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


def _pending(kind: str) -> interaction.Pending | Response | None:
    """The interaction this page serves (``?interaction=``), if any."""
    if (interaction_id := request.args.get("interaction")) is None:
        return None
    return interaction.open_page(interaction_id, kind, person())


def _id(pending: interaction.Pending | None) -> str | None:
    return pending.id if pending else None


def _next() -> str | None:
    next_url = request.args.get("next")
    return next_url if is_safe_next(next_url) else None


def _half_signed_in() -> User | None:
    state = session.get(HALF)
    if not isinstance(state, dict) or not isinstance(state.get("at"), int) \
            or now() - state["at"] > int(current_app.config["IDP_INTERACTION_TTL"]):
        return None
    user = by_key(User, str(state.get("user")))
    return user if user is not None and not user.disabled else None


def _second_factor_user() -> User | None:
    """Whose second factor ``/login/mfa`` asks for: the half signed-in user, or the
    signed-in one whose session has one factor while they have a second."""
    if (user := _half_signed_in()) is not None:
        return user
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
    if _half_signed_in() is not None:
        session.pop(HALF, None)
        return _signed_in_to(pending, _sign_in(user, ["pwd", *amr, "mfa"], pending), _next())
    _, login_session = signed_in()
    assert login_session is not None  # _second_factor_user said so
    sessions.strengthen(login_session, amr, origin())
    if pending is not None:
        return interaction.second_factor_given(pending)
    return see_other(_next() or url_for("auth.index"))


def _nothing_owed(pending: interaction.Pending | None) -> Response:
    """No second factor is owed here: on to the step actually owed, or the login."""
    if pending is not None:
        return see_other(url_for("oauth.resume", interaction_id=pending.id))
    user, _ = signed_in()
    if user is not None:
        return see_other(_next() or url_for("auth.index"))
    return see_other(url_for("auth.login", next=_next()))


def _sign_in(user: User, amr: list[str], pending: interaction.Pending | None) -> LoginSession:
    """A new login session (the previous one of this browser ends) and a new cookie."""
    _, previous = signed_in()
    if previous is not None:
        sessions.end(previous.sid, origin(), user_id=previous.user_id)
    login_session = sessions.start(user, amr=amr,
                                   ttl=int(current_app.config["IDP_LOGIN_SESSION_TTL"]),
                                   origin=origin(),
                                   user_agent=pending.param("user_agent") if pending else None)
    renew_session()
    user.login_session = login_session
    login_user(user)
    return login_session


def _signed_in_to(pending: interaction.Pending | None, login_session: LoginSession,
                  next_url: str | None) -> Response:
    if pending is not None:
        return interaction.logged_in(pending, login_session)
    return see_other(next_url if next_url and is_safe_next(next_url) else url_for("auth.index"))


def _location(response: Response) -> str:
    return response.location or url_for("auth.index")


def _as_json(page: Response) -> Response:
    """What a page would answer instead of going on, for the passkey script."""
    if page.location:
        return _passkeys.go_on(page.location)
    return _passkeys.refused(factors.FactorError(
        "This sign-in request is no longer open. Go back to the application and start again."))


def _second_factor_account() -> str:
    user = _second_factor_user()
    return ratelimit.account_name(user.username) if user else ""
