"""One writer at a time on a SQLite file: threads and processes queue, not poll.

SQLite lets one connection write at a time; the others retry on a timer, with
sleeps of 1, 2, 5 ... 100 ms, which under a threaded server makes a long tail
(code redemptions at p99 above a second). Instead, a connection takes this
lock at its first INSERT, UPDATE or DELETE and gives it back when it returns
to the pool, right after its commit or rollback: a thread lock, then ``flock``
on a file beside the database, so a waiter wakes the moment the writer is
done. Reads never wait (WAL). The fast token path's group commit takes it
around its own transaction. With any other database, or SQLite in memory, it
does nothing.
"""

from __future__ import annotations

import contextlib
import fcntl
import os
import threading
from collections.abc import Iterator

from flask import Flask
from sqlalchemy import Engine, event
from sqlalchemy.engine import make_url

WRITES = ("INSERT", "UPDATE", "DELETE")
HOLDS = "idp.write_lock"  # in a pooled connection's info while it holds the lock


class WriteLock:
    def __init__(self, database_url: str) -> None:
        url = make_url(database_url)
        path = url.database if url.get_backend_name() == "sqlite" else None
        self.path = f"{path}.write-lock" if path and path != ":memory:" else None
        self._thread = threading.Lock()
        self._fd: int | None = None
        self._pid = 0
        self._flocked = False
        self._owner: int | None = None

    def acquire(self) -> None:
        if self._owner == threading.get_ident():
            # A second connection of this thread writing: SQLite would make it
            # wait for the first, forever. Say so rather than hang.
            raise RuntimeError("this thread already holds the SQLite write lock")
        self._thread.acquire()
        self._owner = threading.get_ident()
        try:
            fd = self._file()
        except OSError:  # the database's directory is away: the query will say so
            return
        try:
            fcntl.flock(fd, fcntl.LOCK_EX)
        except OSError:  # no file locks here (NFS): threads still queue
            return
        self._flocked = True

    def release(self) -> None:
        if self._flocked and self._fd is not None:
            self._flocked = False
            fcntl.flock(self._fd, fcntl.LOCK_UN)
        self._owner = None
        self._thread.release()

    @contextlib.contextmanager
    def held(self) -> Iterator[None]:
        if self.path is None:
            yield
            return
        self.acquire()
        try:
            yield
        finally:
            self.release()

    def watch(self, engine: Engine) -> None:
        """Take the lock at a connection's first write; give it back at check-in."""
        if self.path is None:
            return

        @event.listens_for(engine, "before_cursor_execute")
        def first_write(conn, cursor, statement, parameters, context, executemany):
            if HOLDS not in conn.info and statement.lstrip()[:6].upper() in WRITES:
                self.acquire()
                conn.info[HOLDS] = True

        @event.listens_for(engine, "checkin")
        def returned(dbapi_connection, record):
            if record is not None and record.info.pop(HOLDS, False):
                self.release()

    def _file(self) -> int:
        """The lock file, opened once per process (a forked worker opens its own)."""
        if self._fd is None or self._pid != os.getpid():
            assert self.path is not None
            self._fd = os.open(self.path, os.O_RDWR | os.O_CREAT | os.O_CLOEXEC, 0o600)
            self._pid = os.getpid()
        return self._fd


def init_app(app: Flask, engine: Engine) -> None:
    lock = WriteLock(app.config["SQLALCHEMY_DATABASE_URI"])
    lock.watch(engine)
    app.extensions["idp.write_lock"] = lock
