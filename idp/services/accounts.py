"""Users: creation, lookup and password authentication."""

from __future__ import annotations

import json
import re
from typing import Any

from sqlalchemy import func, or_, select

from ..extensions import db
from ..i18n import N_
from ..models import User
from ..security import passwords
from . import FieldError, ServiceError, Taken, grants, sessions
from .audit import Origin, changed, record
from .versions import claim_version

USERNAME_RE = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._@+-]{0,149}$")
# One address, as a mail header takes it: no spaces, and none of the characters that
# would make it a list or a display name (",;<>()[]:\"\\").
EMAIL_RE = re.compile(r'^[^@\s,;<>()\[\]:"\\]+@[^@\s,;<>()\[\]:"\\]+\.[^@\s,;<>()\[\]:"\\]+$')


def check_new_user(username: str, email: str, password: str | None) -> None:
    """The rules for a new account but its address being free (sign-up asks that one
    without saying)."""
    if not USERNAME_RE.match(username):
        raise FieldError("username", N_("invalid username %(username)r: letters, digits and "
                                        "._@+- only"), username=username)
    if not EMAIL_RE.match(email) or len(email) > 254:
        raise FieldError("email", N_("invalid email address %(email)r"), email=email)
    if password is not None and (problem := passwords.password_problem(password)):
        raise FieldError("password", problem[0], **problem[1])
    if username_taken(username) or find_user(username):
        raise Taken("username", N_("a user with username %(username)r exists"),
                    username=username)


def create_user(
    username: str,
    email: str,
    password: str | None = None,
    *,
    given_name: str | None = None,
    family_name: str | None = None,
    email_verified: bool = False,
    admin: bool = False,
    origin: Origin | None = None,
) -> User:
    check_new_user(username, email, password)
    if find_user(email):
        raise Taken("email", N_("a user with email %(email)r exists"), email=email)
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
    db.session.flush()
    changed("user.created", origin, user_id=user.id, admin=admin)
    return user


def username_taken(username: str, but: str | None = None) -> bool:
    """Whether another user has this username in any case ("carol" and "CAROL" would
    look alike on every page)."""
    query = select(User.id).where(func.lower(User.username) == username.lower())
    if but is not None:
        query = query.where(User.id != but)
    return db.session.scalar(query.limit(1)) is not None


def find_user(identifier: str) -> User | None:
    """Find a user by username or email address (case-insensitive email)."""
    return db.session.scalar(
        select(User).where(
            or_(User.username == identifier, func.lower(User.email) == identifier.lower())
        )
    )


def find_by_email(email: str) -> User | None:
    """The user with this address (case-insensitive), never one whose username it is."""
    return db.session.scalar(select(User).where(func.lower(User.email) == email.lower()))


def require_user(identifier: str) -> User:
    user = find_user(identifier)
    if user is None:
        raise ServiceError(N_("no user %(identifier)r"), identifier=identifier)
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
        raise WrongPassword(N_("The current password is wrong."))
    if problem := passwords.password_problem(new):
        raise ServiceError(problem[0], **problem[1])
    user.password_hash = passwords.hash_password(new)
    sessions.end_all_for_user(user.id, keep_sid=keep_sid, origin=origin)
    revoked = grants.all_of_user(user.id, but_sid=keep_sid)
    record("password.changed", origin, user_id=user.id, grants_revoked=revoked)


# -- administration ---------------------------------------------------------------------------
#
# Rules: every change is an audit event naming its actor (``Origin.actor``); an edit
# carries the version it was made against and is refused (``Conflict``) if the user
# changed meanwhile;
# disabling a user, setting their password or deleting them ends their sessions and
# revokes their grants; nobody disables or deletes themselves, and the last
# administrator keeps the flag.

PROFILE_FIELDS = ("username", "email", "email_verified", "given_name", "family_name",
                  "picture", "locale", "public_metadata", "private_metadata",
                  "unsafe_metadata")
METADATA_FIELDS = ("public_metadata", "private_metadata", "unsafe_metadata")
LOCALE_RE = re.compile(r"^[A-Za-z]{2,3}(?:[-_][A-Za-z0-9]{2,8})*$")
MAX_METADATA_BYTES = 8192


def search_users(query: str = "", *, limit: int = 50, offset: int = 0,
                 ) -> tuple[list[User], int]:
    """Users whose username, email or name contains ``query``; a page and the total."""
    condition = []
    if query := query.strip()[:100]:
        wanted = query.lower()  # % and _ are letters here, not wildcards
        condition.append(or_(*(func.lower(column).contains(wanted, autoescape=True)
                               for column in (User.username, User.email, User.given_name,
                                              User.family_name))))
    total = db.session.scalar(select(func.count()).select_from(User).where(*condition)) or 0
    page = db.session.scalars(select(User).where(*condition).order_by(User.username)
                              .limit(limit).offset(offset))
    return list(page), total


def update_user(user: User, changes: dict[str, Any], *, version: int | None = None,
                origin: Origin | None = None) -> User:
    """Edit a user's profile and metadata (``PROFILE_FIELDS``); raises ``FieldError``."""
    unknown = set(changes) - set(PROFILE_FIELDS)
    if unknown:
        raise FieldError(sorted(unknown)[0], N_("%(name)r cannot be changed here"),
                         name=sorted(unknown)[0])
    values = {name: _checked(user, name, value) for name, value in changes.items()}
    claim_version(User, user.id, version)
    for name, value in values.items():
        setattr(user, name, value)
    changed("user.updated", origin, user_id=user.id, fields=sorted(values))
    return user


def _checked(user: User, name: str, value: Any) -> Any:
    """One profile field's new value, checked (rules of ``create_user``)."""
    if name in METADATA_FIELDS:
        if not isinstance(value, dict):
            raise FieldError(name, N_("must be a JSON object"))
        try:
            json.dumps(value, allow_nan=False)
        except ValueError:
            raise FieldError(name, N_("NaN and Infinity are not JSON (RFC 8259)")) from None
        if len(json.dumps(value)) > MAX_METADATA_BYTES:
            raise FieldError(name, N_("must be at most %(count)d bytes of JSON"),
                             count=MAX_METADATA_BYTES)
        return value
    if name == "email_verified":
        if not isinstance(value, bool):
            raise FieldError(name, N_("must be true or false"))
        return value
    if value is not None and not isinstance(value, str):
        raise FieldError(name, N_("must be text"))
    text = (value or "").strip()
    if name == "username":
        if not USERNAME_RE.match(text):
            raise FieldError(name, N_("letters, digits and ._@+- only, at most 150"))
        other = find_user(text)
        if (other is not None and other.id != user.id) or username_taken(text, but=user.id):
            raise Taken(name, N_("another user has this username"))
        return text
    if name == "email":
        if not EMAIL_RE.match(text) or len(text) > 254:
            raise FieldError(name, N_("is not an email address"))
        other = find_user(text)
        if other is not None and other.id != user.id:
            raise Taken(name, N_("another user has this email address"))
        return text.lower()
    if name == "locale":
        if text and not LOCALE_RE.match(text):
            raise FieldError(name, N_("must be a language tag such as en or de-CH"))
        return text or None
    if name == "picture":
        if text and not text.startswith(("https://", "http://")):
            raise FieldError(name, N_("must be an http(s) URL"))
        return text[:2048] or None
    if len(text) > 150:
        raise FieldError(name, N_("at most 150 characters"))
    return text or None


def set_disabled(user: User, disabled: bool, *, origin: Origin | None = None) -> None:
    """Disable (sessions end, grants are revoked) or enable a user."""
    if disabled and _is_self(user, origin):
        raise ServiceError(N_("You cannot disable yourself."))
    if disabled and user.admin and _last_admin(user):
        raise ServiceError(N_("This is the last administrator; make another one first."))
    if user.disabled == disabled:
        return
    user.disabled = disabled
    if disabled:
        sessions.end_all_for_user(user.id, origin=origin)
        grants.all_of_user(user.id)
    changed("user.disabled" if disabled else "user.enabled", origin, user_id=user.id)


def set_admin(user: User, admin: bool, *, origin: Origin | None = None) -> None:
    if not admin and user.admin and _last_admin(user):
        raise ServiceError(N_("This is the last administrator; make another one first."))
    if user.admin == admin:
        return
    user.admin = admin
    changed("user.admin_granted" if admin else "user.admin_revoked", origin, user_id=user.id)


def _is_self(user: User, origin: Origin | None) -> bool:
    return origin is not None and origin.actor == user.id


def _last_admin(user: User) -> bool:
    others = db.session.scalar(select(func.count()).select_from(User).where(
        User.admin.is_(True), User.disabled.is_(False), User.id != user.id))
    return not others


def replace_password(user: User, password: str, *, origin: Origin | None = None) -> int:
    """A new password from someone other than its owner's session (an administrator, a
    reset link): every session of theirs ends and every grant is revoked. Returns how
    many grants were; the caller records who did it."""
    if problem := passwords.password_problem(password):
        raise FieldError("password", problem[0], **problem[1])
    user.password_hash = passwords.hash_password(password)
    sessions.end_all_for_user(user.id, origin=origin)
    return grants.all_of_user(user.id)


def set_password(user: User, password: str, *, origin: Origin | None = None) -> None:
    """An administrator sets a user's password, as after a password change."""
    revoked = replace_password(user, password, origin=origin)
    changed("password.set", origin, user_id=user.id, grants_revoked=revoked)


def delete_user(user: User, *, origin: Origin | None = None) -> None:
    """Delete a user and what is theirs (sessions, grants, consents, memberships,
    factors, linked identities)."""
    if _is_self(user, origin):
        raise ServiceError(N_("You cannot delete yourself."))
    if user.admin and _last_admin(user):
        raise ServiceError(N_("This is the last administrator; make another one first."))
    sessions.end_all_for_user(user.id, origin=origin)
    grants.all_of_user(user.id)
    changed("user.deleted", origin, user_id=user.id, username=user.username)
    db.session.delete(user)
