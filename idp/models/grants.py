"""What issued tokens hang on: grants (refresh families) and the revoked-jti list.

Access tokens are self-contained JWTs: issuing one writes nothing. What can be
revoked is kept instead: the ``Grant`` a user's tokens descend from (a code
redemption, a password sign-in, a token exchange), with its current refresh
token, and the ``jti`` of each access token revoked on its own until it expires.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from sqlalchemy import Boolean, ForeignKey, Index, Integer, String
from sqlalchemy.orm import Mapped, mapped_column

from ..extensions import Model
from .types import JSONType

if TYPE_CHECKING:
    from .client import Client


class Grant(Model):
    """A user's authorization of a client, and every token descended from it.

    ``id`` is in each of its access tokens (``grant_id``); for a code redemption it
    is the code's id, so a replayed code finds what its first use issued. The
    current refresh token is kept by digest, with its expiry; a rotation moves it
    on (``refresh_digest``) and files the old one under ``UsedRefreshToken``.
    ``expires_at`` is when the last token it issued expires.

    A grant made by a token exchange has the subject's grant as ``parent_id`` and
    shares its ``root_id``: revoking the root revokes every derived grant. A grant
    bound to a login session (``sid``) ends with it unless it was granted
    ``offline_access`` (``offline``, OIDC Core §11).
    """

    __tablename__ = "grants"
    __table_args__ = (Index("ix_grants_user_client", "user_id", "client_id"),)

    id: Mapped[str] = mapped_column(String(36), primary_key=True)
    root_id: Mapped[str] = mapped_column(String(36), index=True)
    parent_id: Mapped[str | None] = mapped_column(String(36))
    client_id: Mapped[str] = mapped_column(ForeignKey("clients.client_id", ondelete="CASCADE"))
    user_id: Mapped[str] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"))
    grant_type: Mapped[str] = mapped_column(String(64))  # the grant that began it
    scope: Mapped[str] = mapped_column(String(2000), default="")  # what a refresh may ask
    resources: Mapped[list[str]] = mapped_column(JSONType, default=list)  # RFC 8707
    claims_request: Mapped[dict[str, Any] | None] = mapped_column(JSONType)  # OIDC Core §5.5
    org_id: Mapped[str | None] = mapped_column(String(36))
    sid: Mapped[str | None] = mapped_column(String(64), index=True)
    offline: Mapped[bool] = mapped_column(Boolean, default=False)
    auth_time: Mapped[int | None] = mapped_column(Integer)
    actor: Mapped[dict[str, Any] | None] = mapped_column(JSONType)
    created_at: Mapped[int] = mapped_column(Integer)
    expires_at: Mapped[int] = mapped_column(Integer, index=True)
    revoked_at: Mapped[int | None] = mapped_column(Integer)
    refresh_digest: Mapped[str | None] = mapped_column(String(64), unique=True)
    refresh_expires_at: Mapped[int | None] = mapped_column(Integer)
    rotated_at: Mapped[int | None] = mapped_column(Integer)

    # Authlib's token protocol, for the refresh grant -----------------------

    def check_client(self, client: Client) -> bool:
        return self.client_id == client.client_id

    def get_scope(self) -> str:
        """What a refresh may ask for: the scope originally granted (RFC 6749 §6)."""
        return self.scope


class UsedRefreshToken(Model):
    """A refresh token that was rotated away: presented again, it is a replay."""

    __tablename__ = "used_refresh_tokens"

    digest: Mapped[str] = mapped_column(String(64), primary_key=True)
    grant_id: Mapped[str] = mapped_column(ForeignKey("grants.id", ondelete="CASCADE"),
                                          index=True)
    used_at: Mapped[int] = mapped_column(Integer)


class UsedLink(Model):
    """A one-time link that was followed (an invitation), kept until it would expire."""

    __tablename__ = "used_links"

    digest: Mapped[str] = mapped_column(String(64), primary_key=True)
    expires_at: Mapped[int] = mapped_column(Integer, index=True)


class RevokedToken(Model):
    """An access token revoked on its own (RFC 7009), kept until it would expire."""

    __tablename__ = "revoked_tokens"

    jti: Mapped[str] = mapped_column(String(64), primary_key=True)
    expires_at: Mapped[int] = mapped_column(Integer, index=True)
