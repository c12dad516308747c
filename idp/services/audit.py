"""Security events with structured tags (``login.failure``, ``token.reuse_detected``).

An event is written whatever the request's answer (``transaction.always``): a
refused sign-in is recorded even though its request writes nothing else.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from ..clock import now
from ..extensions import db
from ..models import AuditEvent
from ..transaction import always

if TYPE_CHECKING:
    from flask import Request

log = logging.getLogger("idp.audit")


@dataclass(frozen=True)
class Origin:
    """Where a request came from."""

    ip: str | None = None
    user_agent: str | None = None

    @classmethod
    def of(cls, request: Request) -> Origin:
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
    """Record an event: in a request, whatever its answer; elsewhere, in the caller's
    transaction."""
    origin = origin or Origin()
    event = AuditEvent(
        at=now(),
        tag=tag,
        user_id=user_id,
        client_id=client_id,
        ip=origin.ip,
        user_agent=(origin.user_agent or "")[:512] or None,
        details=details,
    )

    def write() -> None:
        db.session.add(event)
        log.info("%s user=%s client=%s ip=%s %s", tag, user_id, client_id, origin.ip, details)

    always(write)
