"""Security events with structured tags (``login.failure``, ``token.reuse_detected``)."""

from __future__ import annotations

import logging
from dataclasses import dataclass
from typing import Any

from ..extensions import db
from ..models import AuditEvent

log = logging.getLogger("idp.audit")


@dataclass(frozen=True)
class Origin:
    """Where a request came from."""

    ip: str | None = None
    user_agent: str | None = None

    @classmethod
    def of(cls, request) -> Origin:
        """Where ``request`` (a Werkzeug request, handed in by the caller) came from."""
        return cls(ip=request.remote_addr, user_agent=request.headers.get("User-Agent"))


CLI = Origin(ip=None, user_agent="flask idp")


def record(
    tag: str,
    origin: Origin | None = None,
    *,
    user_id: str | None = None,
    client_id: str | None = None,
    **details: Any,
) -> None:
    """Add an event to the current transaction (the caller commits)."""
    origin = origin or Origin()
    db.session.add(
        AuditEvent(
            tag=tag,
            user_id=user_id,
            client_id=client_id,
            ip=origin.ip,
            user_agent=(origin.user_agent or "")[:512] or None,
            details=details,
        )
    )
    log.info("%s user=%s client=%s ip=%s %s", tag, user_id, client_id, origin.ip, details)
