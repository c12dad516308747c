"""Small helpers every view uses to read the request."""

from __future__ import annotations

from flask import redirect, request
from flask_login import current_user

from ..models import LoginSession, User
from ..services.audit import Origin


def origin() -> Origin:
    return Origin.of(request)


def signed_in() -> tuple[User | None, LoginSession | None]:
    """The signed-in user and their login session, or ``(None, None)``."""
    if not current_user.is_authenticated:
        return None, None
    user = current_user._get_current_object()
    return user, user.login_session


def see_other(location: str):
    """Redirect; after a POSTed form with 303 so the browser switches to GET."""
    return redirect(location, 303 if request.method == "POST" else 302)
