"""Token rows from concurrent requests, committed together.

A commit is the dearest part of issuing a client_credentials token. Threads of
one process that issue at the same moment share one: the first to take the
writer's lock commits every row queued so far in one transaction; the others
find theirs committed when the lock comes to them. A request returns only once
its row is committed, so a token is never answered before it is recorded, and
a failed commit fails exactly the requests whose rows it held.

One connection per process, used only under the lock.
"""

from __future__ import annotations

import contextlib
import logging
import threading
from typing import Any

from sqlalchemy import Engine
from sqlalchemy.pool import PoolProxiedConnection

from ..write_lock import WriteLock
from .tokens import INSERT

log = logging.getLogger(__name__)


class _Pending:
    __slots__ = ("done", "failed", "row")

    def __init__(self, row: dict[str, Any]) -> None:
        self.row = row
        self.done = False
        self.failed = True  # until a commit says otherwise


class GroupCommit:
    def __init__(self, engine: Engine, lock: WriteLock) -> None:
        self.engine = engine
        self.lock = lock
        self._queue: list[_Pending] = []
        self._queue_lock = threading.Lock()
        self._writer = threading.Lock()
        self._connection: PoolProxiedConnection | None = None
        self._statement: tuple[tuple[str, ...], str, list[str] | None] | None = None

    def insert(self, row: dict[str, Any]) -> bool:
        """Insert ``row`` and commit; False if the commit failed (nothing of it is kept)."""
        pending = _Pending(row)
        with self._queue_lock:
            self._queue.append(pending)
        with self._writer:
            if not pending.done:
                with self._queue_lock:
                    batch, self._queue = self._queue, []
                ok = False
                try:
                    ok = self._commit([p.row for p in batch])
                finally:  # whatever happens, every row of the batch has its answer
                    for p in batch:
                        p.done, p.failed = True, not ok
        return not pending.failed

    def _commit(self, rows: list[dict[str, Any]]) -> bool:
        """One ``executemany`` and a commit on the driver's own connection.

        The statement is compiled once per set of columns; the values are plain
        strings, integers and NULLs, which need none of SQLAlchemy's conversions.
        """
        columns = tuple(rows[0])
        if self._statement is None or self._statement[0] != columns:
            compiled = INSERT.compile(dialect=self.engine.dialect, column_keys=list(columns))
            order = compiled.positiontup if self.engine.dialect.positional else None
            self._statement = (columns, compiled.string, order)
        _, sql, order = self._statement
        params = [tuple(r[c] for c in order) for r in rows] if order else rows
        try:
            if self._connection is None:  # before the lock: the pool may make us wait
                self._connection = self.engine.raw_connection()
            with self.lock.held():
                cursor = self._connection.cursor()
                try:
                    cursor.executemany(sql, params)
                finally:
                    cursor.close()
                self._connection.commit()
            return True
        except Exception as error:  # any driver or lock error: drop the connection, report
            # One line: during a database outage this happens on every request.
            log.warning("group commit of %d token rows failed: %s: %s", len(rows),
                        type(error).__name__, str(error).splitlines()[0] if str(error) else "")
            self._discard()
            return False

    def close(self) -> None:
        """Give the connection back (at shutdown; the next insert opens another)."""
        with self._writer:
            connection, self._connection = self._connection, None
            if connection is not None:
                connection.close()

    def _discard(self) -> None:
        connection, self._connection = self._connection, None
        if connection is not None:
            with contextlib.suppress(Exception):  # it is being thrown away
                connection.invalidate()
