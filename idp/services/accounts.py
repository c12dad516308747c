"""Users: creation, lookup and password authentication."""

from __future__ import annotations

import re

from sqlalchemy import func, or_, select

from ..extensions import db
from ..models import User
from ..security import passwords
from . import ServiceError, grants, sessions
from .audit import Origin, record

USERNAME_RE = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._@+-]{0,149}$")
EMAIL_RE = re.compile(r"^[^@\s]+@[^@\s]+\.[^@\s]+$")


def create_user(
    username: str,
    email: str,
    password: str | None = None,
    *,
    given_name: str | None = None,
    family_name: str | None = None,
    email_verified: bool = False,
    admin: bool = False,
) -> User:
    if not USERNAME_RE.match(username):
        raise ServiceError(f"invalid username {username!r}: letters, digits and ._@+- only")
    if not EMAIL_RE.match(email) or len(email) > 254:
        raise ServiceError(f"invalid email address {email!r}")
    if password is not None and (problem := passwords.password_problem(password)):
        raise ServiceError(f"password {problem}")
    if find_user(username) or find_user(email):
        raise ServiceError(f"a user with username {username!r} or email {email!r} exists")
    user = User(
        username=username,
        email=email.lower(),
        given_name=given_name,
        family_name=family_name,
        email_verified=email_verified,
        admin=admin,
        password_hash=passwords.hash_password(password) if password else None,
        public_metadata={},
        private_metadata={},
        unsafe_metadata={},
    )
    db.session.add(user)
    return user


def find_user(identifier: str) -> User | None:
    """Find a user by username or email address (case-insensitive email)."""
    return db.session.scalar(
        select(User).where(
            or_(User.username == identifier, func.lower(User.email) == identifier.lower())
        )
    )


def require_user(identifier: str) -> User:
    user = find_user(identifier)
    if user is None:
        raise ServiceError(f"no user {identifier!r}")
    return user


def authenticate(identifier: str, password: str, origin: Origin | None = None) -> User | None:
    """Return the user if the password is right and the account enabled.

    Every path costs one argon2 verification, so timing reveals nothing.
    """
    user = find_user(identifier) if len(identifier) <= 254 else None
    ok = passwords.verify_password(user.password_hash if user else None, password)
    if not ok or user is None or user.disabled:
        record(
            "login.failure",
            origin,
            user_id=user.id if user else None,
            reason="disabled" if ok and user and user.disabled else "bad_credentials",
        )
        return None
    assert user.password_hash is not None
    if passwords.needs_rehash(user.password_hash):
        user.password_hash = passwords.hash_password(password)
    return user


class WrongPassword(ServiceError):
    """The password given to confirm a change is not the user's."""


def change_password(user: User, current: str, new: str, *, keep_sid: str | None,
                    origin: Origin | None = None) -> None:
    """Set a new password; end every other session of the user (ASVS 7.4.3) and revoke
    every grant but the changing session's: refresh tokens of the password grant
    and of ``offline_access`` included."""
    if not passwords.verify_password(user.password_hash, current):
        record("password.change_failed", origin, user_id=user.id)
        raise WrongPassword("The current password is wrong.")
    if problem := passwords.password_problem(new):
        raise ServiceError(f"The new password {problem}.")
    user.password_hash = passwords.hash_password(new)
    sessions.end_all_for_user(user.id, keep_sid=keep_sid, origin=origin)
    revoked = grants.all_of_user(user.id, but_sid=keep_sid)
    record("password.changed", origin, user_id=user.id, grants_revoked=revoked)
