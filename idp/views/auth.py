"""Sign-in and sign-out pages."""

from __future__ import annotations

from flask import Blueprint, current_app, render_template, request, url_for
from flask_login import login_user, logout_user
from werkzeug.wrappers import Response

from ..forms.auth import LoginForm, LogoutForm
from ..models import LoginSession, User
from ..oauth import interaction
from ..security import ratelimit
from ..security.redirects import is_safe_next
from ..services import accounts, sessions
from ._request import origin, person, renew_session, see_other, signed_in

bp = Blueprint("auth", __name__)


@bp.route("/")
def index():
    user, login_session = signed_in()
    return render_template("auth/index.html", user=user, login_session=login_session,
                           form=LogoutForm())


@bp.route("/login", methods=["GET", "POST"])
@ratelimit.login
def login():
    """Sign in: for an application's interaction (``?interaction=``), or for this site."""
    pending: interaction.Pending | None = None
    if (interaction_id := request.args.get("interaction")) is not None:
        opened = interaction.open_page(interaction_id, interaction.LOGIN, person())
        if isinstance(opened, Response):
            return opened
        pending = opened
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
        else:
            login_session = _sign_in(user, pending.param("user_agent") if pending else None)
            if pending is not None:
                return interaction.logged_in(pending, login_session)
            return see_other(form.next.data if is_safe_next(form.next.data)
                             else url_for("auth.index"))
    action = url_for("auth.login", interaction=pending.id) if pending else url_for("auth.login")
    return render_template("auth/login.html", form=form, error=error, action=action,
                           client=pending.client if pending else None), 401 if error else 200


def _sign_in(user: User, user_agent: str | None) -> LoginSession:
    """A new login session (the previous one of this browser ends) and a new cookie."""
    _, previous = signed_in()
    if previous is not None:
        sessions.end(previous.sid, origin(), user_id=previous.user_id)
    login_session = sessions.start(user, amr=["pwd"],
                                   ttl=int(current_app.config["IDP_LOGIN_SESSION_TTL"]),
                                   origin=origin(), user_agent=user_agent)
    renew_session()
    user.login_session = login_session
    login_user(user)
    return login_session


@bp.route("/logout", methods=["GET", "POST"])
def logout():
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
