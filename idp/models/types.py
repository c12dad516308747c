"""Column types shared by the models."""

from typing import Any, cast

from sqlalchemy import JSON, CursorResult, Result, Table
from sqlalchemy.dialects.postgresql import JSONB

# JSONB on PostgreSQL, JSON text elsewhere.
JSONType = JSON().with_variant(JSONB(), "postgresql")


def table(model: type) -> Table:
    """A model's table, for prebuilt Core statements."""
    return cast(Table, model.__table__)  # type: ignore[attr-defined]  # set by the declarative base


def rowcount(result: Result[Any]) -> int:
    """How many rows an UPDATE or DELETE touched."""
    return cast(CursorResult[Any], result).rowcount
