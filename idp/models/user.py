from __future__ import annotations

from typing import TYPE_CHECKING, Any

from sqlalchemy import Boolean, Integer, String
from sqlalchemy.orm import Mapped, mapped_column

from ..clock import now
from ..extensions import Model

if TYPE_CHECKING:
    from .sessions import LoginSession
from ..ids import new_id
from .types import JSONType


class User(Model):
    __tablename__ = "users"

    id: Mapped[str] = mapped_column(String(36), primary_key=True, default=new_id)
    username: Mapped[str] = mapped_column(String(150), unique=True)
    email: Mapped[str] = mapped_column(String(254), unique=True)
    email_verified: Mapped[bool] = mapped_column(Boolean, default=False)
    given_name: Mapped[str | None] = mapped_column(String(150))
    family_name: Mapped[str | None] = mapped_column(String(150))
    picture: Mapped[str | None] = mapped_column(String(2048))
    locale: Mapped[str | None] = mapped_column(String(35))
    public_metadata: Mapped[dict[str, Any]] = mapped_column(JSONType, default=dict)
    private_metadata: Mapped[dict[str, Any]] = mapped_column(JSONType, default=dict)
    unsafe_metadata: Mapped[dict[str, Any]] = mapped_column(JSONType, default=dict)
    password_hash: Mapped[str | None] = mapped_column(String(255))
    disabled: Mapped[bool] = mapped_column(Boolean, default=False)
    admin: Mapped[bool] = mapped_column(Boolean, default=False)
    webauthn_handle: Mapped[str | None] = mapped_column(String(64), unique=True)  # random
    created_at: Mapped[int] = mapped_column(Integer, default=now)
    updated_at: Mapped[int] = mapped_column(Integer, default=now, onupdate=now)
    version: Mapped[int] = mapped_column(Integer, default=1)  # each administrative edit

    #: The login session of the current request (set by the login manager; not a column).
    if TYPE_CHECKING:
        login_session: LoginSession | None
    login_session = None

    # Flask-Login: the id kept in the cookie is the login session, not the user,
    # so ending the session (logout, password change) signs the browser out.
    is_active = True
    is_authenticated = True
    is_anonymous = False

    def get_id(self) -> str | None:
        return self.login_session.sid if self.login_session else None

    @property
    def name(self) -> str:
        full = " ".join(p for p in (self.given_name, self.family_name) if p)
        return full or self.username

    def get_user_id(self) -> str:
        """Authlib's hook: the subject identifier."""
        return self.id

    def __repr__(self) -> str:
        return f"<User {self.username}>"
