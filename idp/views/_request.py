"""Small helpers every view uses to read the request and keep the browser's session."""

from __future__ import annotations

from flask import redirect, request, session
from flask_login import current_user
from werkzeug.exceptions import Unauthorized
from werkzeug.wrappers import Response

from ..models import LoginSession, User
from ..oauth.interaction import BROWSER, Person
from ..services.audit import Origin


def origin() -> Origin:
    return Origin.of(request)


def signed_in_now() -> tuple[User, LoginSession]:
    """The signed-in user and session, in a view that requires them (``login_required``)."""
    user, login_session = signed_in()
    if user is None or login_session is None:
        raise Unauthorized()
    return user, login_session


def signed_in() -> tuple[User | None, LoginSession | None]:
    """The signed-in user and their login session, or ``(None, None)``."""
    if not current_user.is_authenticated:
        return None, None
    user = current_user._get_current_object()
    return user, user.login_session


def person() -> Person:
    return Person(*signed_in())


def renew_session() -> None:
    """Nothing from before a sign-in or sign-out survives it (no fixation), but the
    browser's own id, which its open interactions are bound to."""
    browser = session.get(BROWSER)
    session.clear()
    if browser is not None:
        session[BROWSER] = browser


def see_other(location: str) -> Response:
    """Redirect; after a POSTed form with 303 so the browser switches to GET."""
    return redirect(location, 303 if request.method == "POST" else 302)
