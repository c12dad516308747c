"""Sign-in and sign-out pages."""

from __future__ import annotations

from urllib.parse import parse_qs, urlsplit

from flask import Blueprint, current_app, render_template, request, session, url_for
from flask_login import login_user, logout_user

from ..extensions import db
from ..forms.auth import LoginForm, LogoutForm
from ..security import ratelimit
from ..security.redirects import is_safe_next
from ..services import accounts, sessions
from ._request import origin, see_other, signed_in

bp = Blueprint("auth", __name__)


def _authorize_param(next_url: str | None, name: str) -> str | None:
    """A parameter of the authorization request the login will return to."""
    if not next_url:
        return None
    values = parse_qs(urlsplit(next_url).query).get(name)
    return values[0] if values else None


@bp.route("/")
def index():
    user, login_session = signed_in()
    return render_template("auth/index.html", user=user, login_session=login_session,
                           form=LogoutForm())


@bp.route("/login", methods=["GET", "POST"])
@ratelimit.login
def login():
    next_url = request.values.get("next")
    if not is_safe_next(next_url):
        next_url = None
    form = LoginForm(next=next_url)
    if request.method == "GET" and (hint := _authorize_param(next_url, "login_hint")):
        form.username.data = hint[:254]
    error = None
    if form.validate_on_submit():
        user = accounts.authenticate(form.username.data, form.password.data, origin())
        if user is None:
            db.session.commit()  # the audit event
            error = "Wrong username or password."
        else:
            _, previous = signed_in()
            if previous is not None:
                sessions.end(previous.sid, origin(), user_id=previous.user_id)
            login_session = sessions.start(
                user,
                amr=["pwd"],
                ttl=int(current_app.config["IDP_LOGIN_SESSION_TTL"]),
                origin=origin(),
                user_agent=_authorize_param(next_url, "user_agent"),
            )
            db.session.commit()
            session.clear()  # nothing from before the login survives it
            user.login_session = login_session
            login_user(user)
            return see_other(next_url or url_for("auth.index"))
    status = 401 if error else 200
    return render_template("auth/login.html", form=form, error=error), status


@bp.route("/logout", methods=["GET", "POST"])
def logout():
    form = LogoutForm()
    user, login_session = signed_in()
    if request.method == "POST" and form.validate_on_submit():
        if login_session is not None:
            sessions.end(login_session.sid, origin(), user_id=login_session.user_id)
            db.session.commit()
        logout_user()
        session.clear()
        return render_template("auth/logged_out.html")
    if user is None:
        return render_template("auth/logged_out.html")
    return render_template("auth/logout.html", form=form, user=user)
