"""Authorization interactions: a request held on the server while a person answers it."""

from __future__ import annotations

from sqlalchemy import Boolean, ForeignKey, Integer, String
from sqlalchemy.orm import Mapped, mapped_column

from ..extensions import Model
from .types import JSONType


class Interaction(Model):
    """One authorization request waiting for its person: login, organization, consent.

    ``params`` is the request as it arrived (validated; ``[name, value]`` pairs, so
    repeated parameters keep every value). The rest is what happened inside the
    interaction: who signed in (``login_sid``), which organization was chosen,
    whether consent was given. The pages carry only ``id``; ``browser`` binds it to
    the browser that began it; ``completed_at`` makes it single use.
    """

    __tablename__ = "interactions"

    id: Mapped[str] = mapped_column(String(64), primary_key=True)
    browser: Mapped[str] = mapped_column(String(64))
    client_id: Mapped[str] = mapped_column(ForeignKey("clients.client_id", ondelete="CASCADE"))
    params: Mapped[list[list[str]]] = mapped_column(JSONType)
    began_at: Mapped[int] = mapped_column(Integer)
    expires_at: Mapped[int] = mapped_column(Integer, index=True)
    user_id: Mapped[str | None] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"))
    login_sid: Mapped[str | None] = mapped_column(String(64))
    org_id: Mapped[str | None] = mapped_column(String(36))
    org_chosen: Mapped[bool] = mapped_column(Boolean, default=False)
    consented: Mapped[bool] = mapped_column(Boolean, default=False)
    completed_at: Mapped[int | None] = mapped_column(Integer)
