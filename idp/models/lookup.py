"""Rows by primary key, for the busiest read paths."""

from __future__ import annotations

from typing import Any, TypeVar

from sqlalchemy import Select, bindparam, select

from ..extensions import db
from .types import table

M = TypeVar("M")


_STATEMENTS: dict[type, Select[Any]] = {}


def _statement(model: type) -> Select[Any]:
    """The statement for ``model``, built on its first use."""
    statement = _STATEMENTS.get(model)
    if statement is None:
        (key,) = table(model).primary_key.columns
        statement = _STATEMENTS[model] = select(model).where(key == bindparam("key"))
    return statement


def by_key(model: type[M], key: Any) -> M | None:
    """What ``db.session.get(model, key)`` returns, for less: ``Session.get`` builds a
    new statement, and its compile-cache key, on every call the identity map cannot
    answer, which on the busiest lookups is every call; this one is built once per
    model (``bench/README.md`` has the figures)."""
    return db.session.scalars(_statement(model), {"key": key}).first()
