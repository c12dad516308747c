"""What every way of signing in shares: the interaction a page serves, the half-way
state between a first factor and a second, and the login session at the end.

Rules:
- a first factor (a password, an upstream provider's word) signs in a user
  without a second factor at once; one with a second factor is only half signed
  in (who, how, and when, in the browser's session, for ``IDP_INTERACTION_TTL``
  seconds) until ``/login/mfa`` has it; only then does a login session begin;
  an upstream that says it used two factors (``mfa`` in its ``amr``) counts as both;
- every sign-in starts a new login session (the browser's previous one ends)
  and a new session cookie.
"""

from __future__ import annotations

from dataclasses import dataclass

from flask import current_app, request, session, url_for
from flask_login import login_user
from werkzeug.wrappers import Response

from ..clock import now
from ..models import LoginSession, User, by_key
from ..oauth import interaction
from ..security.redirects import is_safe_next
from ..services import factors, sessions
from ._request import origin, person, renew_session, see_other, signed_in

HALF = "half_signed_in"  # the browser's session key: a first factor proven, a second owed


def pending_for(kind: str) -> interaction.Pending | Response | None:
    """The interaction this page serves (``?interaction=``), if any."""
    if (interaction_id := request.args.get("interaction")) is None:
        return None
    return interaction.open_page(interaction_id, kind, person())


def id_of(pending: interaction.Pending | None) -> str | None:
    return pending.id if pending else None


def safe_next(value: str | None = None) -> str | None:
    """``next`` (the query's by default) when it is a path on this server."""
    value = request.args.get("next") if value is None else value
    return value if value and is_safe_next(value) else None


@dataclass
class Half:
    user: User
    amr: list[str]  # how the first factor was proven


def half_signed_in() -> Half | None:
    state = session.get(HALF)
    if not isinstance(state, dict) or not isinstance(state.get("at"), int) \
            or now() - state["at"] > int(current_app.config["IDP_INTERACTION_TTL"]):
        return None
    user = by_key(User, str(state.get("user")))
    amr = state.get("amr")
    if user is None or user.disabled or not isinstance(amr, list):
        return None
    return Half(user, [str(method) for method in amr])


def first_factor_proven(user: User, amr: list[str], pending: interaction.Pending | None,
                        next_url: str | None) -> Response:
    """Signed in, or on to ``/login/mfa`` when the user has a second factor to give."""
    if "mfa" not in amr and factors.has_second_factor(user):
        session[HALF] = {"user": user.id, "amr": amr, "at": now()}
        return see_other(url_for("auth.second_factor", interaction=id_of(pending),
                                 next=safe_next(next_url)))
    return signed_in_to(pending, sign_in(user, amr, pending), next_url)


def sign_in(user: User, amr: list[str], pending: interaction.Pending | None) -> LoginSession:
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


def signed_in_to(pending: interaction.Pending | None, login_session: LoginSession,
                 next_url: str | None) -> Response:
    """After a sign-in: back to the interaction, or to ``next``, or the home page."""
    if pending is not None:
        return interaction.logged_in(pending, login_session)
    return see_other(safe_next(next_url) or url_for("auth.index"))
