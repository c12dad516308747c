"""Optimistic concurrency for administrative edits: each edit names the version it was
made against (a form's hidden field, an API's ``If-Match``)."""

from __future__ import annotations

from typing import Any

from sqlalchemy import update

from ..extensions import db
from ..i18n import N_
from ..models.types import rowcount
from . import Conflict, NotFound


def claim_version(model: Any, key: Any, expected: int | None) -> None:
    """Take the next version of a row, or raise ``Conflict`` when it is not at
    ``expected`` any more (None: whatever it is). One conditional UPDATE, so of two
    concurrent edits made against the same version exactly one goes through."""
    row = db.session.get(model, key)
    if row is None:
        raise NotFound(N_("no such object"))
    current = expected if expected is not None else row.version
    primary = model.__mapper__.primary_key[0]
    claimed = db.session.execute(
        update(model).where(primary == key, model.version == current)
        .values(version=current + 1).execution_options(synchronize_session=False))
    if rowcount(claimed) != 1:
        raise Conflict(N_("It was changed meanwhile by someone else; load it again and "
                          "redo the change."))
    db.session.refresh(row, ["version"])
