"""Second factors: authenticator apps (TOTP), passkeys (WebAuthn), recovery codes."""

from __future__ import annotations

from sqlalchemy import ForeignKey, Integer, String
from sqlalchemy.orm import Mapped, mapped_column

from ..clock import now
from ..extensions import Model
from ..ids import new_id
from .types import JSONType


class TotpFactor(Model):
    """An authenticator app (RFC 6238). The secret is sealed with a key from the
    configuration; it counts once a first code confirmed it. ``last_step`` is the
    newest time step accepted: a code is good once."""

    __tablename__ = "totp_factors"

    id: Mapped[str] = mapped_column(String(36), primary_key=True, default=new_id)
    user_id: Mapped[str] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"),
                                         index=True, unique=True)  # one app per user
    sealed_secret: Mapped[str] = mapped_column(String(500))
    confirmed_at: Mapped[int | None] = mapped_column(Integer)
    last_step: Mapped[int] = mapped_column(Integer, default=0)
    created_at: Mapped[int] = mapped_column(Integer, default=now)


class Passkey(Model):
    """A WebAuthn credential (a passkey or a security key) of a user."""

    __tablename__ = "passkeys"

    id: Mapped[str] = mapped_column(String(36), primary_key=True, default=new_id)
    user_id: Mapped[str] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"), index=True)
    credential_id: Mapped[str] = mapped_column(String(1400), unique=True)  # base64url
    public_key: Mapped[str] = mapped_column(String(2000))  # COSE, base64url
    sign_count: Mapped[int] = mapped_column(Integer, default=0)
    transports: Mapped[list[str]] = mapped_column(JSONType, default=list)
    device_type: Mapped[str] = mapped_column(String(16), default="single_device")
    name: Mapped[str] = mapped_column(String(100))
    created_at: Mapped[int] = mapped_column(Integer, default=now)
    last_used_at: Mapped[int | None] = mapped_column(Integer)


class RecoveryCode(Model):
    """One single-use recovery code, kept as a keyed digest."""

    __tablename__ = "recovery_codes"

    id: Mapped[str] = mapped_column(String(36), primary_key=True, default=new_id)
    user_id: Mapped[str] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"), index=True)
    digest: Mapped[str] = mapped_column(String(64), unique=True)
    created_at: Mapped[int] = mapped_column(Integer, default=now)
    used_at: Mapped[int | None] = mapped_column(Integer)
