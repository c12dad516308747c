from __future__ import annotations

from typing import Any

from sqlalchemy import ForeignKey, Index, Integer, String
from sqlalchemy.orm import Mapped, mapped_column

from ..extensions import db
from ._common import JSONType, new_id, now


class LoginSession(db.Model):
    """A browser's signed-in session; ``sid`` goes into ID and access tokens."""

    __tablename__ = "login_sessions"

    sid: Mapped[str] = mapped_column(String(64), primary_key=True)
    user_id: Mapped[str] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"), index=True)
    auth_time: Mapped[int] = mapped_column(Integer)
    amr: Mapped[list[str]] = mapped_column(JSONType, default=list)
    acr: Mapped[str | None] = mapped_column(String(64))
    org_id: Mapped[str | None] = mapped_column(
        ForeignKey("organizations.id", ondelete="SET NULL")
    )
    user_agent: Mapped[str | None] = mapped_column(String(512))
    ip: Mapped[str | None] = mapped_column(String(64))
    created_at: Mapped[int] = mapped_column(Integer, default=now)
    expires_at: Mapped[int] = mapped_column(Integer, index=True)
    ended_at: Mapped[int | None] = mapped_column(Integer)


class AuthorizationCode(db.Model):
    """A single-use code, stored by digest; ``id`` becomes the token family."""

    __tablename__ = "authorization_codes"
    __table_args__ = (Index("ix_authorization_codes_client_nonce", "client_id", "nonce"),)

    id: Mapped[str] = mapped_column(String(36), primary_key=True, default=new_id)
    code_digest: Mapped[str] = mapped_column(String(64), unique=True)
    client_id: Mapped[str] = mapped_column(ForeignKey("clients.client_id", ondelete="CASCADE"))
    user_id: Mapped[str] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"))
    sid: Mapped[str | None] = mapped_column(String(64))
    org_id: Mapped[str | None] = mapped_column(String(36))
    redirect_uri: Mapped[str | None] = mapped_column(String(2000))
    scope: Mapped[str] = mapped_column(String(2000), default="")
    nonce: Mapped[str | None] = mapped_column(String(512))
    auth_time: Mapped[int] = mapped_column(Integer)
    acr: Mapped[str | None] = mapped_column(String(64))
    amr: Mapped[list[str]] = mapped_column(JSONType, default=list)
    code_challenge: Mapped[str | None] = mapped_column(String(128))
    code_challenge_method: Mapped[str | None] = mapped_column(String(8))
    issued_at: Mapped[int] = mapped_column(Integer, default=now)
    expires_at: Mapped[int] = mapped_column(Integer, index=True)
    used_at: Mapped[int | None] = mapped_column(Integer)

    # Authlib AuthorizationCodeMixin (OIDC) -------------------------------

    def get_redirect_uri(self) -> str | None:
        return self.redirect_uri

    def get_scope(self) -> str:
        return self.scope

    def get_nonce(self) -> str | None:
        return self.nonce

    def get_auth_time(self) -> int:
        return self.auth_time

    def get_acr(self) -> str | None:
        return self.acr

    def get_amr(self) -> list[str] | None:
        return self.amr or None


class Token(db.Model):
    """One issuance: a JWT access token (by ``jti``) and maybe a refresh token.

    ``family_id`` ties together everything descended from one grant (a code
    redemption, a password login...), so a replay can revoke all of it.
    """

    __tablename__ = "tokens"
    __table_args__ = (Index("ix_tokens_expiry", "refresh_expires_at", "expires_at"),)

    jti: Mapped[str] = mapped_column(String(64), primary_key=True)
    family_id: Mapped[str] = mapped_column(String(36), index=True)
    client_id: Mapped[str] = mapped_column(ForeignKey("clients.client_id", ondelete="CASCADE"))
    user_id: Mapped[str | None] = mapped_column(
        ForeignKey("users.id", ondelete="CASCADE"), index=True
    )
    grant_type: Mapped[str] = mapped_column(String(64))  # the grant that began the family
    scope: Mapped[str] = mapped_column(String(2000), default="")
    granted_scope: Mapped[str] = mapped_column(String(2000), default="")
    org_id: Mapped[str | None] = mapped_column(String(36))
    sid: Mapped[str | None] = mapped_column(String(64))
    auth_time: Mapped[int | None] = mapped_column(Integer)
    actor: Mapped[dict[str, Any] | None] = mapped_column(JSONType)
    issued_at: Mapped[int] = mapped_column(Integer, default=now)
    expires_at: Mapped[int] = mapped_column(Integer)
    refresh_digest: Mapped[str | None] = mapped_column(String(64), unique=True)
    refresh_expires_at: Mapped[int | None] = mapped_column(Integer)
    refresh_used_at: Mapped[int | None] = mapped_column(Integer)
    revoked_at: Mapped[int | None] = mapped_column(Integer)

    def is_active(self, at: int | None = None) -> bool:
        return self.revoked_at is None and self.expires_at > (at or now())

    # Authlib's token protocol, for the refresh grant -----------------------

    def check_client(self, client) -> bool:
        return self.client_id == client.client_id

    def get_scope(self) -> str:
        """What a refresh may ask for: the scope originally granted (RFC 6749 §6)."""
        return self.granted_scope


class Consent(db.Model):
    """The scopes a user has granted a client; a request within them skips the page."""

    __tablename__ = "consents"

    user_id: Mapped[str] = mapped_column(
        ForeignKey("users.id", ondelete="CASCADE"), primary_key=True
    )
    client_id: Mapped[str] = mapped_column(
        ForeignKey("clients.client_id", ondelete="CASCADE"), primary_key=True
    )
    scope: Mapped[str] = mapped_column(String(2000), default="")
    granted_at: Mapped[int] = mapped_column(Integer, default=now)
