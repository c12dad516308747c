"""Authorization codes."""

from __future__ import annotations

from typing import Any

from sqlalchemy import ForeignKey, Index, Integer, String
from sqlalchemy.orm import Mapped, mapped_column

from ..clock import now
from ..extensions import Model
from ..ids import new_id
from .types import JSONType


class AuthorizationCode(Model):
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
    resources: Mapped[list[str]] = mapped_column(JSONType, default=list)  # RFC 8707
    claims_request: Mapped[dict[str, Any] | None] = mapped_column(JSONType)  # OIDC Core §5.5
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
