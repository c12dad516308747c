"""Resource servers ("APIs") and the roles whose permissions their tokens carry."""

from __future__ import annotations

from typing import Any

from sqlalchemy import ForeignKey, Integer, String, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from ..clock import now
from ..extensions import Model
from ..ids import new_id
from .types import JSONType


class Api(Model):
    """A resource server: tokens for it carry its ``identifier`` as ``aud`` (RFC 8707,
    RFC 9068 §3), are signed with its algorithm and live at most its lifetime.

    ``scopes`` are ``{"name", "description"}`` objects, shown on the consent page.
    ``client_id`` and ``secret_digest`` are its own credentials, for introspecting
    the tokens sent to it (RFC 7662 §2.1); they authenticate nowhere else.
    """

    __tablename__ = "apis"

    id: Mapped[str] = mapped_column(String(36), primary_key=True, default=new_id)
    identifier: Mapped[str] = mapped_column(String(2000), unique=True)
    name: Mapped[str] = mapped_column(String(200))
    scopes: Mapped[list[dict[str, Any]]] = mapped_column(JSONType, default=list)
    access_token_alg: Mapped[str] = mapped_column(String(16), default="RS256")
    access_token_ttl: Mapped[int] = mapped_column(Integer, default=300)
    client_id: Mapped[str] = mapped_column(String(128), unique=True)
    secret_digest: Mapped[str] = mapped_column(String(64))
    created_at: Mapped[int] = mapped_column(Integer, default=now)

    @property
    def scope_names(self) -> list[str]:
        return [s["name"] for s in self.scopes]

    def describe(self, scope: str) -> str | None:
        return next((s.get("description") or None for s in self.scopes if s["name"] == scope),
                    None)


class Role(Model):
    """A named set of permissions, for one API's tokens or (``api_id`` empty) for all."""

    __tablename__ = "roles"
    __table_args__ = (UniqueConstraint("name", "api_id"),)

    id: Mapped[str] = mapped_column(String(36), primary_key=True, default=new_id)
    name: Mapped[str] = mapped_column(String(200))
    api_id: Mapped[str | None] = mapped_column(ForeignKey("apis.id", ondelete="CASCADE"))
    permissions: Mapped[list[str]] = mapped_column(JSONType, default=list)
    description: Mapped[str | None] = mapped_column(String(500))
    created_at: Mapped[int] = mapped_column(Integer, default=now)


class RoleAssignment(Model):
    """A role given to a user directly, or to everyone in a group."""

    __tablename__ = "role_assignments"
    __table_args__ = (UniqueConstraint("role_id", "user_id", "group_id"),)

    id: Mapped[str] = mapped_column(String(36), primary_key=True, default=new_id)
    role_id: Mapped[str] = mapped_column(ForeignKey("roles.id", ondelete="CASCADE"), index=True)
    user_id: Mapped[str | None] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"),
                                                index=True)
    group_id: Mapped[str | None] = mapped_column(ForeignKey("groups.id", ondelete="CASCADE"),
                                                 index=True)
