"""Faults a production server meets: its database goes away, a worker is killed with
SIGKILL under load, Redis is unreachable.

Each test starts its own server (as ``make serve`` runs it) on a fresh database
(SQLite, or PostgreSQL under ``IDP_TEST_DATABASE_URL``) and reads the server log
for what an operator would see.
"""

from __future__ import annotations

import hashlib
import os
import random
import secrets
import signal
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest
import requests
from sqlalchemy import create_engine, text
from sqlalchemy.engine import Engine, make_url

from tests.live import (
    LiveServer,
    ServerProcess,
    authorize_in_browser,
    base_url,
    free_port,
    fresh_database,
    production_server,
    server_environment,
    verify_jwt,
)

pytestmark = pytest.mark.live

PG = os.environ.get("IDP_TEST_DATABASE_URL", "").startswith("postgresql")
TIMEOUT = 30
SERVICE_SCOPE = "api:read api:write"


def sha256(value: str) -> str:
    return hashlib.sha256(value.encode()).hexdigest()


def admin_for(tmp: Path, url: str, env: dict[str, str]) -> LiveServer:
    """The CLI on ``env``'s database (before and beside the server)."""
    return LiveServer(url=url, env=env, log_path=tmp / "cli.log")


def create_service(admin: LiveServer) -> tuple[str, str]:
    client = admin.cli_json("clients", "create", "--name", "Service", "--grant-type",
                            "client_credentials", "--scope", SERVICE_SCOPE)
    return client["client_id"], client["client_secret"]


def service_token(url: str, client_id: str, secret: str) -> requests.Response:
    return requests.post(f"{url}/oauth/token", data={"grant_type": "client_credentials"},
                         auth=(client_id, secret), timeout=TIMEOUT)


def assert_service_token(server: ServerProcess, client_id: str, secret: str,
                         jwks: dict[str, Any] | None = None) -> None:
    with service_token(server.url, client_id, secret) as response:
        assert response.status_code == 200, (response.text, server.server.log()[-5000:])
        body = response.json()
    verify_jwt(body["access_token"], jwks or server.server.jwks(), "Ed25519", iss=server.url,
               sub=client_id, client_id=client_id, scope=SERVICE_SCOPE)


def assert_unavailable(response: requests.Response) -> None:
    """503, RFC 6749-style JSON ``temporarily_unavailable``, never an HTML page."""
    with response:
        assert response.status_code == 503, (response.status_code, response.text)
        assert response.headers["Content-Type"].startswith("application/json"), response.headers
        body = response.json()
        assert body["error"] == "temporarily_unavailable", body
        assert body["error_description"], body


def healthz(url: str) -> requests.Response:
    return requests.get(f"{url}/healthz", timeout=TIMEOUT)


def wait_for(condition: Callable[[], bool], what: str, timeout: float = 10) -> None:
    deadline = time.monotonic() + timeout
    while not condition():
        assert time.monotonic() < deadline, f"timed out waiting for {what}"
        time.sleep(0.1)


def healthy(url: str) -> bool:
    with healthz(url) as response:
        return response.status_code == 200


# -- the database goes away, and comes back -------------------------------------------


def check_outage_and_recovery(server: ServerProcess, service: tuple[str, str],
                              cut: Callable[[], None] | None, restore: Callable[[], None],
                              ) -> None:
    """Serving (unless ``cut`` is None: down from the start), down after ``cut``: 503 JSON
    and a log line for whatever needs the database; serving again after ``restore``.

    A service whose registration the worker holds keeps getting tokens meanwhile: they
    are self-contained, and issuing one reads and writes nothing.
    """
    if cut is not None:
        with healthz(server.url) as response:
            assert response.status_code == 200, response.text
            assert response.json() == {"status": "ok"}
        assert_service_token(server, *service)
    held = None
    if cut is not None:
        with service_token(server.url, *service) as response:
            held = response.json()["access_token"]
    jwks = server.server.jwks() if cut else None  # the keys, read while the database is up

    log_from = len(server.server.log())
    if cut is not None:
        cut()
    assert_unavailable(healthz(server.url))
    if cut is None:  # nothing cached yet: the client itself must be read
        assert_unavailable(service_token(server.url, *service))
    else:
        assert_service_token(server, *service, jwks=jwks)
    assert_unavailable(requests.post(f"{server.url}/oauth/introspect", auth=service,
                                     data={"token": held or "x"}, timeout=TIMEOUT))
    log = server.server.log()[log_from:]
    assert "health check: database unreachable" in log, log
    assert "database unreachable on POST /oauth/introspect" in log, log
    assert "Traceback" not in log, log

    restore()
    wait_for(lambda: healthy(server.url), "/healthz to answer 200 again")
    assert_service_token(server, *service)


def test_sqlite_database_gone_is_503_until_it_returns(tmp_path: Path) -> None:
    """SQLite: the directory holding the database is missing (a volume not mounted).

    A running SQLite worker keeps its open file descriptors, whatever happens to
    the path, so the server starts while the database is away; it must answer
    503 JSON, say so in the log, and serve as soon as the directory is back.
    """
    port = free_port()
    url = base_url(port)
    data, away = tmp_path / "data", tmp_path / "data.away"
    data.mkdir()
    env = server_environment(url, f"sqlite:///{data / 'idp.sqlite3'}")
    admin = admin_for(tmp_path, url, env)
    admin.cli("init")
    service = create_service(admin)
    data.rename(away)
    with production_server(tmp_path, env, port=port, threads=2) as server:
        check_outage_and_recovery(server, service, cut=None, restore=lambda: away.rename(data))


@pytest.mark.skipif(not PG, reason="the PostgreSQL variant needs IDP_TEST_DATABASE_URL")
def test_postgresql_unreachable_is_503_until_it_returns(tmp_path: Path) -> None:
    """PostgreSQL: the database stops accepting connections and drops the server's."""
    import psycopg

    port = free_port()
    url = base_url(port)
    with fresh_database(tmp_path) as database_url:
        name = make_url(database_url).database
        admin_url = (make_url(database_url).set(drivername="postgresql", database="postgres")
                     .render_as_string(hide_password=False))
        env = server_environment(url, database_url)
        admin = admin_for(tmp_path, url, env)
        admin.cli("init")
        service = create_service(admin)

        def allow(allowed: bool) -> None:
            with psycopg.connect(admin_url, autocommit=True) as conn:
                conn.execute(f'ALTER DATABASE "{name}" ALLOW_CONNECTIONS {allowed}')
                if not allowed:
                    # With a timeout, it returns once they are gone (PostgreSQL 14+).
                    conn.execute("SELECT pg_terminate_backend(pid, 5000) FROM pg_stat_activity "
                                 "WHERE datname = %s", [name])

        try:
            with production_server(tmp_path, env, port=port, threads=2) as server:
                check_outage_and_recovery(server, service, cut=lambda: allow(False),
                                          restore=lambda: allow(True))
        finally:
            allow(True)


# -- SIGKILL in the middle of a load run ----------------------------------------------

LOAD_WORKERS, LOAD_THREADS = 3, 4
LOAD_USERS, LOAD_CLIENTS = 4, 5
SERVICE_THREADS = 3
PASSWORD = "load horse battery staple"
WEB_SCOPE = "openid profile offline_access"
KILLS = 2
SUCCESSES_BETWEEN_KILLS = 30
PAUSE = 0.01  # seconds between a service thread's requests


@dataclass
class Issued:
    """A 200 from the token endpoint and what the test knows it was for."""

    body: dict[str, Any]
    client_id: str
    user_id: str | None  # None: client_credentials
    grant_type: str  # the grant that began the family
    code: str | None = None
    refreshed: str | None = None  # the access token issued with the refresh token used


@dataclass
class Load:
    url: str
    users: dict[str, str]  # username -> id
    web_clients: dict[str, str]  # client_id -> secret
    service: tuple[str, str]
    redirect_uri: str
    stop: threading.Event = field(default_factory=threading.Event)
    issued: list[Issued] = field(default_factory=list)
    codes: list[tuple[str, str, str]] = field(default_factory=list)  # code, client, user
    consents: set[tuple[str, str]] = field(default_factory=set)  # user id, client id
    lost: list[str] = field(default_factory=list)  # connection errors (the killed worker's)
    failures: list[str] = field(default_factory=list)  # any other non-200 answer

    def successes(self) -> int:
        return len(self.issued)


def record(load: Load, response: requests.Response, issued: Callable[[dict], Issued],
           ) -> Issued | None:
    with response:
        if response.status_code == 200:
            item = issued(response.json())
            load.issued.append(item)
            return item
        load.failures.append(f"{response.status_code} {response.request.path_url} "
                             f"{response.text[:300]}")
        return None


def service_load(load: Load) -> None:
    client_id, secret = load.service
    with requests.Session() as http:
        http.auth = (client_id, secret)
        while not load.stop.is_set():
            try:
                response = http.post(f"{load.url}/oauth/token", timeout=TIMEOUT,
                                     data={"grant_type": "client_credentials"})
            except requests.RequestException as error:
                load.lost.append(repr(error))
                continue
            record(load, response, lambda body: Issued(body, client_id, None,
                                                       "client_credentials"))
            load.stop.wait(PAUSE)  # leave the CPU some room for the replacement workers


def browser_load(load: Load, username: str) -> None:
    """Sign in, then authorize (consenting) and redeem at each client in turn, refreshing
    every other time; after a lost request, carry on with a fresh authorization."""
    user_id = load.users[username]
    clients = list(load.web_clients)
    browser = requests.Session()
    turn = 0
    try:
        while not load.stop.is_set():
            client_id = clients[turn % len(clients)]
            secret = load.web_clients[client_id]
            turn += 1
            try:
                params, pages = authorize_in_browser(browser, load.url, {
                    "response_type": "code", "client_id": client_id, "scope": WEB_SCOPE,
                    "redirect_uri": load.redirect_uri, "nonce": secrets.token_urlsafe(8),
                }, username=username, password=PASSWORD)
                code = params["code"]
                load.codes.append((code, client_id, user_id))
                if "/consent" in pages:
                    load.consents.add((user_id, client_id))
                response = requests.post(f"{load.url}/oauth/token", timeout=TIMEOUT,
                                         auth=(client_id, secret),
                                         data={"grant_type": "authorization_code", "code": code,
                                               "redirect_uri": load.redirect_uri})
                first = record(load, response, lambda body, c=code, i=client_id: Issued(
                    body, i, user_id, "authorization_code", code=c))
                if first is None or turn % 2:
                    continue
                response = requests.post(
                    f"{load.url}/oauth/token", timeout=TIMEOUT, auth=(client_id, secret),
                    data={"grant_type": "refresh_token",
                          "refresh_token": first.body["refresh_token"]})
                used = first.body["access_token"]
                record(load, response, lambda body, i=client_id, u=used: Issued(
                    body, i, user_id, "authorization_code", refreshed=u))
            except requests.RequestException as error:
                load.lost.append(repr(error))
                browser.close()
                browser = requests.Session()  # whatever the lost answer would have set
            except AssertionError as error:  # a page answered other than expected
                load.failures.append(f"browser {username}: {error}"[:1000])
    finally:
        browser.close()


@contextmanager
def provisioned(env: dict[str, str], redirect_uri: str) -> Iterator[dict[str, Any]]:
    """Users and clients written in this process through the services (the CLI's code),
    far faster than one CLI process each."""
    from idp import create_app
    from idp.extensions import db
    from idp.services import accounts, clients

    app = create_app({"ISSUER": env["IDP_ISSUER"], "DATABASE_URL": env["IDP_DATABASE_URL"],
                      "SECRET_KEY": env["IDP_SECRET_KEY"], "REDIS_URL": None})
    try:
        with app.app_context():
            users = {f"loader{i}": accounts.create_user(f"loader{i}", f"loader{i}@example.com",
                                                        PASSWORD)
                     for i in range(LOAD_USERS)}
            web = [clients.create_client(f"Web {i}", redirect_uris=[redirect_uri],
                                         scope=WEB_SCOPE) for i in range(LOAD_CLIENTS)]
            service = clients.create_client("Service", grant_types=["client_credentials"],
                                            scope=SERVICE_SCOPE)
            db.session.commit()

            def add_user(username: str) -> str:
                user = accounts.create_user(username, f"{username}@example.com", PASSWORD)
                db.session.commit()
                return user.id

            yield {"users": {name: user.id for name, user in users.items()},
                   "add_user": add_user,
                   "web_clients": {c.client.client_id: c.client_secret for c in web},
                   "service": (service.client.client_id, service.client_secret)}
    finally:
        with app.app_context():
            db.engine.dispose()


def rows(engine: Engine, sql: str, **params: Any) -> list[Any]:
    with engine.connect() as conn:
        return list(conn.execute(text(sql), params))


# A connection torn by the kill in the middle of a TLS exchange may be dropped by urllib3
# without its socket being closed; the garbage collector then warns, in whichever
# thread it runs.
@pytest.mark.filterwarnings("ignore::pytest.PytestUnraisableExceptionWarning")
@pytest.mark.filterwarnings("ignore::ResourceWarning")
def test_sigkill_of_a_worker_under_load_loses_nothing_committed(tmp_path: Path) -> None:
    port = free_port()
    url = base_url(port)
    redirect_uri = f"http://127.0.0.1:{free_port()}/callback"  # nobody listens
    with fresh_database(tmp_path) as database_url:
        # Rate limits are not under test (the killed worker's requests may fail).
        env = server_environment(url, database_url, RATE_LIMIT_TOKEN_IP="100000/minute",
                                 RATE_LIMIT_LOGIN_IP="100000/minute")
        admin = admin_for(tmp_path, url, env)
        admin.cli("init")
        with provisioned(env, redirect_uri) as made, \
                production_server(tmp_path, env, port=port, workers=LOAD_WORKERS,
                                threads=LOAD_THREADS) as server:
            load = Load(url, made["users"], made["web_clients"], made["service"], redirect_uri)
            threads = [threading.Thread(target=service_load, args=(load,))
                       for _ in range(SERVICE_THREADS)]
            threads += [threading.Thread(target=browser_load, args=(load, username))
                        for username in load.users]
            for thread in threads:
                thread.start()
            originals = server.worker_pids()
            killed: list[int] = []
            try:
                for kill in range(KILLS):
                    start = load.successes()
                    wait_for(lambda s=start: load.successes() >= s + SUCCESSES_BETWEEN_KILLS,
                             "load before the kill", timeout=30)
                    if kill == 0:  # and a user committed meanwhile by another process
                        late_user = made["add_user"]("latecomer")
                    victim = random.choice(sorted(originals - set(killed)))  # noqa: S311
                    os.kill(victim, signal.SIGKILL)
                    killed.append(victim)
                    wait_for(lambda v=victim: v not in server.worker_pids(), "the victim to go")
                server.wait_for_workers()  # the master has replaced them
                after = load.successes()
                wait_for(lambda: load.successes() >= after + SUCCESSES_BETWEEN_KILLS,
                         "load after the kills", timeout=30)
            finally:
                load.stop.set()
                for thread in threads:
                    thread.join(TIMEOUT + 10)
            log = server.server.log()
            victim_names = [server.worker_name(victim) for victim in killed]
            replacements = server.worker_pids()
            served_after = set(server.served_by("POST /oauth/token"))
            jwks = server.server.jwks()

        assert not load.failures, "\n".join(load.failures[:20]) + "\n" + log[-10000:]
        assert "Traceback" not in log, log[-20000:]
        assert replacements - originals, "the killed workers were not replaced"
        assert replacements & served_after, "no replacement worker served a token request"
        for name in victim_names:
            assert f"Unexpected exit from {name}" in log, log[-5000:]

        engine = create_engine(database_url)
        try:
            check_nothing_lost(engine, load, jwks, late_user)
            check_integrity(engine)
        finally:
            engine.dispose()
        print(f"{load.successes()} tokens issued, {len(load.lost)} requests lost to the "
              f"kills of {killed}")


def check_nothing_lost(engine: Engine, load: Load, jwks: dict[str, Any],
                       late_user: str) -> None:
    # Every user and client committed before (or during) the run is there.
    user_ids = {r.id for r in rows(engine, "SELECT id FROM users")}
    assert set(load.users.values()) | {late_user} <= user_ids
    client_ids = {r.client_id for r in rows(engine, "SELECT client_id FROM clients")}
    assert set(load.web_clients) | {load.service[0]} <= client_ids

    # Every consent whose page answered with a code (one commit) is there.
    consents = {(r.user_id, r.client_id): r.scope
                for r in rows(engine, "SELECT user_id, client_id, scope FROM consents")}
    for pair in load.consents:
        assert pair in consents, pair
        assert set(WEB_SCOPE.split()) <= set(consents[pair].split()), consents[pair]

    # Every code the browser was given is there, as issued.
    codes = {r.code_digest: r for r in rows(engine, "SELECT * FROM authorization_codes")}
    for code, client_id, user_id in load.codes:
        row = codes[sha256(code)]
        assert (row.client_id, row.user_id, row.scope) == (client_id, user_id, WEB_SCOPE)

    # Every token answered with 200 verifies; a user's hangs on its grant, which is
    # there and says what the JWT says (a service's token is recorded nowhere).
    grants = {r.id: r for r in rows(engine, "SELECT * FROM grants")}
    used = {r.digest: r.grant_id for r in rows(engine, "SELECT * FROM used_refresh_tokens")}
    sessions = {r.sid for r in rows(engine, "SELECT sid FROM login_sessions")}
    grant_of: dict[str, Any] = {}
    for item in load.issued:
        body = item.body
        _, claims = verify_jwt(body["access_token"], jwks, "Ed25519",
                               client_id=item.client_id, sub=item.user_id or item.client_id)
        assert claims["scope"] == body["scope"]
        assert claims["exp"] - claims["iat"] == body["expires_in"]
        if not item.user_id:
            assert "grant_id" not in claims
            continue
        grant = grants.get(claims["grant_id"])
        assert grant is not None, ("a token answered with 200 has no grant", claims)
        grant_of[body["access_token"]] = grant
        assert (grant.client_id, grant.user_id, grant.grant_type) == (
            item.client_id, item.user_id, item.grant_type)
        assert grant.revoked_at is None
        assert grant.sid == claims.get("sid")
        assert grant.expires_at >= claims["exp"]
        if "refresh_token" in body:  # the current one, or rotated away since
            digest = sha256(body["refresh_token"])
            assert grant.refresh_digest == digest or used.get(digest) == grant.id
        _, id_claims = verify_jwt(body["id_token"], jwks, "RS256", sub=item.user_id,
                                  aud=item.client_id)
        assert id_claims["sid"] == grant.sid
        assert grant.sid in sessions
        if item.code:
            code_row = codes[sha256(item.code)]
            assert code_row.used_at is not None
            assert grant.id == code_row.id
    for item in load.issued:
        if item.refreshed:  # a refresh: the same grant, moved on
            assert grant_of[item.body["access_token"]].id == grant_of[item.refreshed].id


def check_integrity(engine: Engine) -> None:
    """No half-written state anywhere, whichever requests the kills interrupted."""
    problems = {
        "grant without its client": "SELECT g.id FROM grants g LEFT JOIN clients c "
        "ON c.client_id = g.client_id WHERE c.client_id IS NULL",
        "grant without its user": "SELECT g.id FROM grants g LEFT JOIN users u "
        "ON u.id = g.user_id WHERE u.id IS NULL",
        "refresh digest without expiry": "SELECT id FROM grants WHERE "
        "(refresh_digest IS NULL) <> (refresh_expires_at IS NULL)",
        "used code that issued nothing": "SELECT c.id FROM authorization_codes c "
        "WHERE c.used_at IS NOT NULL AND NOT EXISTS "
        "(SELECT 1 FROM grants g WHERE g.id = c.id)",
        "used refresh token without its grant": "SELECT u.digest FROM used_refresh_tokens u "
        "LEFT JOIN grants g ON g.id = u.grant_id WHERE g.id IS NULL",
        "rotated grant without its used token": "SELECT g.id FROM grants g "
        "WHERE g.rotated_at > g.created_at AND NOT EXISTS "
        "(SELECT 1 FROM used_refresh_tokens u WHERE u.grant_id = g.id)",
        "consent without user or client": "SELECT k.user_id FROM consents k "
        "LEFT JOIN users u ON u.id = k.user_id LEFT JOIN clients c "
        "ON c.client_id = k.client_id WHERE u.id IS NULL OR c.client_id IS NULL",
        "code without its client or user": "SELECT a.id FROM authorization_codes a "
        "LEFT JOIN users u ON u.id = a.user_id LEFT JOIN clients c "
        "ON c.client_id = a.client_id WHERE u.id IS NULL OR c.client_id IS NULL",
        "session without its user": "SELECT s.sid FROM login_sessions s LEFT JOIN users u "
        "ON u.id = s.user_id WHERE u.id IS NULL",
    }
    found = {what: rows(engine, sql) for what, sql in problems.items()}
    assert not any(found.values()), {k: v[:5] for k, v in found.items() if v}
    if engine.dialect.name == "sqlite":
        assert [tuple(r) for r in rows(engine, "PRAGMA integrity_check")] == [("ok",)]
        assert rows(engine, "PRAGMA foreign_key_check") == []
    else:
        # The killed workers' backends ended with them: no transaction left open.
        wait_for(lambda: not rows(
            engine, "SELECT pid FROM pg_stat_activity WHERE datname = current_database() "
            "AND state LIKE 'idle in transaction%'"), "no idle transactions")


# -- Redis unreachable ---------------------------------------------------------------


def test_redis_unreachable_rate_limits_fall_back_to_memory(tmp_path: Path) -> None:
    port = free_port()
    url = base_url(port)
    nowhere = free_port()  # nothing listens there
    with fresh_database(tmp_path) as database_url:
        env = server_environment(url, database_url, REDIS_URL=f"redis://127.0.0.1:{nowhere}/0",
                                 RATE_LIMIT_TOKEN_IP="3/minute")
        admin = admin_for(tmp_path, url, env)
        admin.cli("init")
        client_id, secret = create_service(admin)
        with production_server(tmp_path, env, port=port, threads=2) as server:
            # Requests are served: successes (which never count) ...
            for _ in range(5):
                assert_service_token(server, client_id, secret)
            with requests.get(f"{url}/login", timeout=TIMEOUT) as page:
                assert page.status_code == 200, page.text
            # ... and failures are still counted, in this process's memory.
            for _ in range(3):
                with service_token(url, client_id, "wrong-secret") as response:
                    assert response.status_code == 401, response.text
                    assert response.json()["error"] == "invalid_client"
            with service_token(url, client_id, secret) as response:
                assert response.status_code == 429, response.text
                assert response.json()["error"] == "temporarily_unavailable"
                assert 0 < int(response.headers["Retry-After"]) <= 60
            log = server.server.log()
    warnings = [line for line in log.splitlines()
                if " WARNING " in line and "rate limit storage" in line.lower()]
    assert warnings, log
    assert "Traceback" not in log, log
