"""The per-process client cache: one query per client per TTL, unknown ids never cached."""

from __future__ import annotations

import time

from sqlalchemy import event

from idp.extensions import db
from idp.oauth.server import ClientCache


def counting_selects(app):
    statements: list[str] = []

    def before(conn, cursor, statement, *args):
        if "FROM clients" in statement:
            statements.append(statement)

    event.listen(db.engine, "before_cursor_execute", before)
    return statements, lambda: event.remove(db.engine, "before_cursor_execute", before)


def test_a_cached_client_costs_no_query_until_it_expires(app, web, monkeypatch):
    with app.app_context():
        cache = ClientCache(ttl=30)
        selects, stop = counting_selects(app)
        try:
            first = cache.get("web")
            second = cache.get("web")
            assert first is second
            assert first.client_id == "web"
            assert first.check_client_secret(web.client_secret)
            assert len(selects) == 1
            later = time.monotonic() + 31
            monkeypatch.setattr(time, "monotonic", lambda: later)
            cache.get("web")
            assert len(selects) == 2
        finally:
            stop()


def test_unknown_clients_are_not_cached(app):
    with app.app_context():
        cache = ClientCache(ttl=30)
        selects, stop = counting_selects(app)
        try:
            assert cache.get("ghost") is None
            assert cache.get("ghost") is None
            assert len(selects) == 2
        finally:
            stop()


def test_zero_ttl_reads_every_time(app, web):
    with app.app_context():
        cache = ClientCache(ttl=0)
        selects, stop = counting_selects(app)
        try:
            cache.get("web")
            cache.get("web")
            assert len(selects) == 2
        finally:
            stop()
