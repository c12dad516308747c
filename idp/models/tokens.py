"""Issued tokens: access tokens by jti, refresh tokens by digest."""

from __future__ import annotations

from typing import Any

from sqlalchemy import ForeignKey, Index, Integer, String
from sqlalchemy.orm import Mapped, mapped_column

from ..clock import now
from ..extensions import db
from .types import JSONType


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
