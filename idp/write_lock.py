"""One writer at a time on a SQLite file: threads and processes queue, not poll.

SQLite lets one connection write at a time; the others retry on a timer, with
sleeps of 1, 2, 5 ... 100 ms, which under a threaded server makes a long tail
(code redemptions at p99 above a second). The token endpoint's write
transaction, and the fast path's group commit, take this lock first: a thread
lock, then ``flock`` on a file beside the database, so a waiter wakes the
moment the writer is done. With any other database, or SQLite in memory, it
is a plain no-op.
"""

from __future__ import annotations

import contextlib
import fcntl
import os
import threading
from collections.abc import Iterator

from flask import Flask, current_app
from sqlalchemy.engine import make_url


class WriteLock:
    def __init__(self, database_url: str) -> None:
        url = make_url(database_url)
        path = url.database if url.get_backend_name() == "sqlite" else None
        self.path = f"{path}.write-lock" if path and path != ":memory:" else None
        self._thread = threading.Lock()
        self._fd: int | None = None
        self._pid = 0

    @contextlib.contextmanager
    def held(self) -> Iterator[None]:
        if self.path is None:
            yield
            return
        with self._thread:
            try:
                fd = self._file()
            except OSError:  # the database's directory is away: the query will say so
                yield
                return
            fcntl.flock(fd, fcntl.LOCK_EX)
            try:
                yield
            finally:
                fcntl.flock(fd, fcntl.LOCK_UN)

    def _file(self) -> int:
        """The lock file, opened once per process (a forked worker opens its own)."""
        if self._fd is None or self._pid != os.getpid():
            assert self.path is not None
            self._fd = os.open(self.path, os.O_RDWR | os.O_CREAT | os.O_CLOEXEC, 0o600)
            self._pid = os.getpid()
        return self._fd


def init_app(app: Flask) -> None:
    app.extensions["idp.write_lock"] = WriteLock(app.config["SQLALCHEMY_DATABASE_URI"])


def held() -> contextlib.AbstractContextManager[None]:
    return current_app.extensions["idp.write_lock"].held()
