"""Browser login sessions: the ``sid`` shared by ID tokens, access tokens and logout.

Rules:
- a new ``sid`` at every login (no fixation); the session lasts at most
  ``IDP_LOGIN_SESSION_TTL`` and ends after ``IDP_LOGIN_SESSION_IDLE`` seconds
  unused (its use is noted at most once a minute);
- ending it revokes the grants bound to it, but ``offline_access`` ones;
- its ``acr`` is "2" once two factors are proven (``mfa`` in ``amr``, at the
  sign-in or later in the session: a step-up), else "1".
"""

from __future__ import annotations

import secrets

from flask import current_app
from sqlalchemy import select, update

from ..clock import now
from ..extensions import db
from ..models import LoginSession, User
from ..models.types import rowcount
from . import grants
from .audit import Origin, record


def start(
    user: User, *, amr: list[str], ttl: int, origin: Origin, user_agent: str | None = None
) -> LoginSession:
    """Open a new session (a fresh ``sid`` at every login: no fixation)."""
    at = now()
    session = LoginSession(
        sid=secrets.token_urlsafe(24),
        user_id=user.id,
        auth_time=at,
        amr=amr,
        acr=acr_of(amr),
        user_agent=(user_agent or origin.user_agent or "")[:512] or None,
        ip=origin.ip,
        created_at=at,
        last_seen_at=at,
        expires_at=at + ttl,
    )
    db.session.add(session)
    record("login.success", origin, user_id=user.id, sid=session.sid, amr=amr)
    return session


def acr_of(amr: list[str]) -> str:
    return "2" if "mfa" in amr else "1"


def strengthen(login_session: LoginSession, amr: list[str], origin: Origin) -> None:
    """A second factor was proven in this session (a step-up, or a factor just enrolled):
    its ``amr`` gains those methods, and ``acr`` is 2."""
    merged = list(dict.fromkeys([*login_session.amr, *amr, "mfa"]))
    login_session.amr = merged
    login_session.acr = acr_of(merged)
    record("login.step_up", origin, user_id=login_session.user_id, sid=login_session.sid,
           amr=merged)


SEEN_EVERY = 60  # seconds: how often a session's use is written down


def load_active(sid: str) -> LoginSession | None:
    """The session if it is neither ended, expired nor idle, and its user is enabled."""
    at = now()
    row = db.session.execute(
        select(LoginSession, User)
        .join(User, User.id == LoginSession.user_id)
        .where(
            LoginSession.sid == sid,
            LoginSession.ended_at.is_(None),
            LoginSession.expires_at > at,
            LoginSession.last_seen_at > at - int(current_app.config["IDP_LOGIN_SESSION_IDLE"]),
            User.disabled.is_(False),
        )
    ).first()
    return row[0] if row else None


def seen(login_session: LoginSession) -> None:
    """The browser used its session now (written at most once a minute)."""
    at = now()
    if at - login_session.last_seen_at >= SEEN_EVERY:
        login_session.last_seen_at = at


def end(sid: str, origin: Origin | None = None, user_id: str | None = None) -> None:
    """End the session and revoke the grants (and so the tokens) bound to it.

    Grants of ``offline_access`` outlive the browser session on purpose (OIDC
    Core §11); everything else issued in the session dies with it.
    """
    at = now()
    ended = db.session.execute(
        update(LoginSession)
        .where(LoginSession.sid == sid, LoginSession.ended_at.is_(None))
        .values(ended_at=at)
    )
    if rowcount(ended) == 0:
        return
    grants.end_of_session(sid)
    record("logout", origin, user_id=user_id, sid=sid)


def end_all_for_user(user_id: str, *, keep_sid: str | None = None,
                     origin: Origin | None = None) -> None:
    """End every session of the user but ``keep_sid`` (after a password change)."""
    for sid in db.session.scalars(
        select(LoginSession.sid).where(
            LoginSession.user_id == user_id,
            LoginSession.ended_at.is_(None),
            LoginSession.sid != (keep_sid or ""),
        )
    ).all():
        end(sid, origin, user_id=user_id)


def active_for_user(user_id: str) -> list[LoginSession]:
    """The user's open sessions, newest first."""
    return list(db.session.scalars(
        select(LoginSession)
        .where(LoginSession.user_id == user_id, LoginSession.ended_at.is_(None),
               LoginSession.expires_at > now())
        .order_by(LoginSession.created_at.desc())
    ))
