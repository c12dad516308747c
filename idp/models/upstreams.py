"""Upstream identity providers people may sign in through, and the identities they
vouch for, each linked to one user here."""

from __future__ import annotations

from typing import Any

from sqlalchemy import Boolean, ForeignKey, Integer, String, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from ..clock import now
from ..extensions import Model
from ..ids import new_id
from .types import JSONType


class Upstream(Model):
    """An OpenID provider (``issuer``, by discovery) or a plain OAuth 2.0 one (the
    three endpoints and a claim mapping). The client secret is sealed at rest."""

    __tablename__ = "upstreams"

    id: Mapped[str] = mapped_column(String(64), primary_key=True)  # the admin's name for it
    name: Mapped[str] = mapped_column(String(200))
    issuer: Mapped[str | None] = mapped_column(String(500))
    authorize_url: Mapped[str | None] = mapped_column(String(500))
    token_url: Mapped[str | None] = mapped_column(String(500))
    userinfo_url: Mapped[str | None] = mapped_column(String(500))
    client_id: Mapped[str] = mapped_column(String(500))
    sealed_client_secret: Mapped[str] = mapped_column(String(2000))
    scope: Mapped[str] = mapped_column(String(500))
    # Our claim name -> the upstream's field, for providers without OpenID Connect.
    claims: Mapped[dict[str, Any]] = mapped_column(JSONType, default=dict)
    link_by_verified_email: Mapped[bool] = mapped_column(Boolean, default=False)
    create_users: Mapped[bool] = mapped_column(Boolean, default=False)
    org_id: Mapped[str | None] = mapped_column(ForeignKey("organizations.id",
                                                          ondelete="SET NULL"))
    groups_claim: Mapped[str | None] = mapped_column(String(100))
    created_at: Mapped[int] = mapped_column(Integer, default=now)
    updated_at: Mapped[int] = mapped_column(Integer, default=now, onupdate=now)

    @property
    def is_oidc(self) -> bool:
        return self.issuer is not None


class LinkedIdentity(Model):
    """A user's account at an upstream, by the upstream's ``sub`` (never by email)."""

    __tablename__ = "linked_identities"
    __table_args__ = (
        UniqueConstraint("upstream_id", "subject", name="uq_linked_identities_subject"),
        UniqueConstraint("upstream_id", "user_id", name="uq_linked_identities_user"),
    )

    id: Mapped[str] = mapped_column(String(36), primary_key=True, default=new_id)
    upstream_id: Mapped[str] = mapped_column(ForeignKey("upstreams.id", ondelete="CASCADE"))
    subject: Mapped[str] = mapped_column(String(255))
    user_id: Mapped[str] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"),
                                         index=True)
    email: Mapped[str | None] = mapped_column(String(254))  # as the upstream last said
    created_at: Mapped[int] = mapped_column(Integer, default=now)
    last_used_at: Mapped[int | None] = mapped_column(Integer)
