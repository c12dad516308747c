"""Security events with structured tags (``login.failure``, ``token.reuse_detected``).

Rules:
- a security event is written whatever the request's answer
  (``transaction.always``): a refused sign-in is recorded even though its
  request writes nothing else;
- an administrator's change (``changed``) is written with the change, in the
  same transaction: kept if and only if the change is;
- the log says what the table says.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass, replace
from typing import TYPE_CHECKING, Any

from ..clock import now
from ..extensions import db
from ..models import AuditEvent
from ..transaction import after_commit, always

if TYPE_CHECKING:
    from flask import Request

log = logging.getLogger("idp.audit")


@dataclass(frozen=True)
class Origin:
    """Where a request came from, and who acts in it when that is not the user
    concerned (an administrator's id, ``client:ID`` for an admin client, ``cli``)."""

    ip: str | None = None
    user_agent: str | None = None
    actor: str | None = None

    def by(self, actor: str) -> Origin:
        return replace(self, actor=actor)

    @classmethod
    def of(cls, request: Request) -> Origin:
        """Where ``request`` (a Werkzeug request, handed in by the caller) came from."""
        return cls(ip=request.remote_addr, user_agent=request.headers.get("User-Agent"))


CLI = Origin(ip=None, user_agent="flask idp", actor="cli")


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
    event = _event(tag, origin or Origin(), user_id, client_id, details)

    def write() -> None:
        db.session.add(event)
        _log(event)

    always(write)


def changed(
    tag: str,
    origin: Origin | None = None,
    *,
    user_id: str | None = None,
    client_id: str | None = None,
    **details: Any,
) -> None:
    """Record a change made by an administrator (or the command line) with the change
    itself: rolled back with it when the request fails."""
    event = _event(tag, origin or Origin(), user_id, client_id, details)
    db.session.add(event)
    after_commit(lambda: _log(event))


def _event(tag: str, origin: Origin, user_id: str | None, client_id: str | None,
           details: dict[str, Any]) -> AuditEvent:
    if origin.actor:
        details = {"actor": origin.actor, **details}
    return AuditEvent(at=now(), tag=tag, user_id=user_id, client_id=client_id, ip=origin.ip,
                      user_agent=(origin.user_agent or "")[:512] or None, details=details)


def _log(event: AuditEvent) -> None:
    log.info("%s user=%s client=%s ip=%s %s", event.tag, event.user_id, event.client_id,
             event.ip, event.details)


@dataclass(frozen=True)
class Filter:
    """Which audit events to list (every field optional)."""

    since: int | None = None
    until: int | None = None
    tag: str | None = None  # exact, or a family ending in "." or "*": "login." / "login*"
    user_id: str | None = None
    client_id: str | None = None
    ip: str | None = None


def search(what: Filter, *, limit: int = 50, offset: int = 0,
           ) -> tuple[list[AuditEvent], int]:
    """Events matching ``what``, newest first: a page and the total."""
    from sqlalchemy import func, select

    conditions = []
    what = replace(what, since=_stored(what.since), until=_stored(what.until))
    if what.since is not None:
        conditions.append(AuditEvent.at >= what.since)
    if what.until is not None:
        conditions.append(AuditEvent.at <= what.until)
    if what.tag:
        family = what.tag.rstrip("*")
        conditions.append(AuditEvent.tag.startswith(family, autoescape=True)
                          if what.tag.endswith(("*", ".")) else AuditEvent.tag == what.tag)
    for column, value in ((AuditEvent.user_id, what.user_id),
                          (AuditEvent.client_id, what.client_id), (AuditEvent.ip, what.ip)):
        if value:
            conditions.append(column == value)
    total = db.session.scalar(select(func.count()).select_from(AuditEvent)
                              .where(*conditions)) or 0
    rows = db.session.scalars(select(AuditEvent).where(*conditions)
                              .order_by(AuditEvent.id.desc()).limit(limit).offset(offset))
    return list(rows), total


def _stored(moment: int | None) -> int | None:
    """A time as the ``at`` column can hold it (a 32-bit integer of seconds)."""
    return None if moment is None else max(0, min(moment, 2**31 - 1))


def as_dict(event: AuditEvent) -> dict[str, Any]:
    return {"id": event.id, "at": event.at, "tag": event.tag, "user_id": event.user_id,
            "client_id": event.client_id, "ip": event.ip, "user_agent": event.user_agent,
            "details": event.details}
