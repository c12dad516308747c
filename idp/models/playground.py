"""The playground's runs: what a person is trying out, kept on the server."""

from __future__ import annotations

from sqlalchemy import Integer, String, Text
from sqlalchemy.orm import Mapped, mapped_column

from ..extensions import Model


class PlaygroundRun(Model):
    """One person's playground run: its flow, its PKCE verifier, state and nonce, the
    tokens it got and the exchanges so far. ``sealed`` is that as JSON, encrypted
    (tokens are credentials); the browser holds only ``id``, in its session."""

    __tablename__ = "playground_runs"

    id: Mapped[str] = mapped_column(String(64), primary_key=True)
    created_at: Mapped[int] = mapped_column(Integer)
    expires_at: Mapped[int] = mapped_column(Integer, index=True)
    sealed: Mapped[str] = mapped_column(Text)
