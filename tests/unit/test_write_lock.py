"""The SQLite writer lock: one writer at a time across threads and processes."""

from __future__ import annotations

import subprocess
import sys
import threading
import time

from idp.write_lock import WriteLock


def test_threads_take_turns(tmp_path):
    lock = WriteLock(f"sqlite:///{tmp_path / 'idp.sqlite3'}")
    inside, most = [0], [0]

    def write() -> None:
        for _ in range(50):
            with lock.held():
                inside[0] += 1
                most[0] = max(most[0], inside[0])
                time.sleep(0.0001)
                inside[0] -= 1

    threads = [threading.Thread(target=write) for _ in range(8)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert most[0] == 1


def test_another_process_holding_it_makes_us_wait(tmp_path):
    database = tmp_path / "idp.sqlite3"
    script = ("import time\n"
              "from idp.write_lock import WriteLock\n"
              f"with WriteLock('sqlite:///{database}').held():\n"
              "    print('held', flush=True)\n"
              "    time.sleep(0.5)\n")
    with subprocess.Popen([sys.executable, "-c", script], stdout=subprocess.PIPE,
                          text=True) as holder:
        assert holder.stdout.readline().strip() == "held"
        started = time.monotonic()
        with WriteLock(f"sqlite:///{database}").held():
            waited = time.monotonic() - started
        holder.wait(10)
    assert waited > 0.2


def test_a_missing_directory_or_another_database_needs_no_file(tmp_path):
    with WriteLock(f"sqlite:///{tmp_path / 'away' / 'idp.sqlite3'}").held():
        pass
    assert WriteLock("postgresql+psycopg://idp@db/idp").path is None
    assert WriteLock("sqlite://").path is None
    assert not (tmp_path / "away").exists()


def test_a_connection_holds_it_from_its_first_write_until_it_is_returned(tmp_path):
    from sqlalchemy import create_engine, text

    url = f"sqlite:///{tmp_path / 'idp.sqlite3'}"
    engine = create_engine(url)
    lock = WriteLock(url)
    lock.watch(engine)
    try:
        with engine.begin() as conn:
            conn.execute(text("CREATE TABLE t (x INTEGER)"))
        assert not lock._thread.locked()
        with engine.connect() as conn:
            conn.execute(text("SELECT count(*) FROM t"))
            assert not lock._thread.locked()  # reads never wait
            conn.execute(text("INSERT INTO t VALUES (1)"))
            assert lock._thread.locked()
            conn.commit()
        assert not lock._thread.locked()  # back in the pool
        with engine.connect() as conn:
            conn.execute(text("UPDATE t SET x = 2"))
            conn.rollback()
        assert not lock._thread.locked()
    finally:
        engine.dispose()


def test_without_file_locks_threads_still_queue_and_nothing_sticks(tmp_path, monkeypatch):
    import fcntl

    import pytest

    lock = WriteLock(f"sqlite:///{tmp_path / 'idp.sqlite3'}")

    def no_locks(fd, op):
        raise OSError(37, "No locks available")

    monkeypatch.setattr(fcntl, "flock", no_locks)
    with lock.held():
        assert lock._thread.locked()
        with pytest.raises(RuntimeError, match="already holds"):
            lock.acquire()  # the same thread again would wait forever
    assert not lock._thread.locked()
