"""A real server process for live tests: ``make serve``'s server on a free port, a fresh database.

It serves https, as production does: a certificate for ``localhost`` from the
test run's own CA (``tests/tls.py``), which every client in the tests trusts
(``requests`` through ``REQUESTS_CA_BUNDLE``, set in ``conftest.py``).

    from tests.live import live_server_fixture
    server = live_server_fixture()          # a module-scoped fixture

or, for full control, ``with live_server(tmp_dir) as server: ...``.

The database is a new SQLite file, or, when ``IDP_TEST_DATABASE_URL`` points at
PostgreSQL (``make test-postgres``), a new database on that server, dropped
afterwards. ``flask idp init`` migrates it and creates the signing keys; the
test creates users, organizations and clients with ``server.cli(...)``, before
or while the server runs.
"""

from __future__ import annotations

import json
import os
import re
import secrets
import socket
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Literal

import pytest
import requests

from idp.access_log import ACCESS_LOG_FORMAT

from .helpers import at_hash, verify_jwt
from .tls import HOSTNAME, certificates

__all__ = ["at_hash", "verify_jwt"]  # what the live tests check tokens with

ROOT = Path(__file__).resolve().parents[1]
# The console scripts of the interpreter running the tests: works from any venv.
BIN = Path(sys.executable).parent
START_TIMEOUT = 20.0
CLI_TIMEOUT = 60.0
STOP_TIMEOUT = 10.0


def base_url(port: int, *, tls: bool = True) -> str:
    """The issuer a test server on ``port`` serves: https://localhost:PORT (or plain http)."""
    return f"https://{HOSTNAME}:{port}" if tls else f"http://127.0.0.1:{port}"


def free_port() -> int:
    """A TCP port nobody listens on right now (the kernel's choice)."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


@dataclass
class LiveServer:
    """A running server: its issuer URL and the environment its CLI runs with."""

    url: str
    env: dict[str, str]
    log_path: Path

    def cli(self, *args: str) -> str:
        """Run ``flask --app app idp ARGS...`` against this server's database."""
        done = subprocess.run(
            [str(BIN / "flask"), "--app", "app", "idp", *args],
            cwd=ROOT, env=self.env, capture_output=True, text=True, timeout=CLI_TIMEOUT,
            check=False,
        )
        assert done.returncode == 0, (args, done.stdout, done.stderr)
        return done.stdout

    def cli_json(self, *args: str) -> dict[str, Any]:
        """Run a ``create`` command with ``--json``; the contract is one JSON object."""
        return json.loads(self.cli(*args, "--json"))

    def discovery(self) -> dict[str, Any]:
        with requests.get(f"{self.url}/.well-known/openid-configuration", timeout=10) as r:
            assert r.status_code == 200, r.text
            return r.json()

    def jwks(self) -> dict[str, Any]:
        with requests.get(f"{self.url}/.well-known/jwks.json", timeout=10) as r:
            assert r.status_code == 200, r.text
            return r.json()

    def log(self) -> str:
        return self.log_path.read_text(errors="replace")


def _clean_environment() -> dict[str, str]:
    # Settings of the shell running pytest (IDP_REDIS_URL, ...) must not leak in.
    return {k: v for k, v in os.environ.items() if not k.startswith("IDP_")}


@contextmanager
def _database(tmp_dir: Path) -> Iterator[str]:
    """A fresh, empty database URL; a PostgreSQL one is dropped on exit."""
    pg_url = os.environ.get("IDP_TEST_DATABASE_URL")
    if not pg_url:
        yield "sqlite:///" + str(tmp_dir / "idp.sqlite3")
        return
    import psycopg
    from sqlalchemy.engine import make_url

    name = "idp_live_" + secrets.token_hex(6)
    base = make_url(pg_url)
    # psycopg speaks libpq URLs: no "+psycopg" driver suffix.
    admin = base.set(drivername="postgresql", database="postgres")
    admin_url = admin.render_as_string(hide_password=False)
    with psycopg.connect(admin_url, autocommit=True) as conn:
        conn.execute(f'CREATE DATABASE "{name}"')
    try:
        yield base.set(database=name).render_as_string(hide_password=False)
    finally:
        with psycopg.connect(admin_url, autocommit=True) as conn:
            conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


def _wait_until_ready(process: subprocess.Popen, url: str, log_path: Path) -> None:
    deadline = time.monotonic() + START_TIMEOUT
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise RuntimeError(f"the server exited ({process.returncode}):\n"
                               + log_path.read_text(errors="replace"))
        try:
            with requests.get(f"{url}/.well-known/openid-configuration", timeout=2) as r:
                if r.status_code == 200:
                    return
        except requests.ConnectionError:
            pass  # not listening yet
        time.sleep(0.1)
    raise RuntimeError(f"the server did not answer within {START_TIMEOUT} s:\n"
                       + log_path.read_text(errors="replace"))


def serve_command(port: int, workers: int = 1, threads: int = 16, *, tls: bool = True,
                  host: str = "127.0.0.1") -> list[str]:
    """The server as ``make serve`` runs it (granian), on ``host``:``port``; with ``tls``,
    terminating TLS itself with the test run's certificate."""
    command = [str(BIN / "granian"), "--interface", "wsgi", "--host", host,
               "--port", str(port), "--workers", str(workers), "--blocking-threads", str(threads),
               "--no-ws", "--respawn-failed-workers", "--respawn-interval", "0.2",
               "--access-log", "--access-log-fmt", ACCESS_LOG_FORMAT,
               "--log-config", str(ROOT / "logging.json")]
    if tls:
        certs = certificates()
        command += ["--ssl-certificate", str(certs.cert_path),
                    "--ssl-keyfile", str(certs.key_path)]
    return [*command, "app:app"]


def _stop(process: subprocess.Popen) -> None:
    if process.poll() is None:
        process.terminate()  # granian shuts down gracefully on SIGTERM
        try:
            process.wait(timeout=STOP_TIMEOUT)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()


@contextmanager
def live_server(tmp_dir: Path, prepare: Callable[[LiveServer], None] | None = None,
                *, tls: bool = True, issuer: str | None = None, port: int | None = None,
                **settings: str) -> Iterator[LiveServer]:
    """Initialise a fresh database, run ``prepare`` (CLI set-up), serve it on ``port``
    (https unless ``tls`` is false); ``settings`` are more ``IDP_*`` variables.

    ``issuer`` is the public URL when something else is in front (a reverse proxy):
    the server is reached, and waited for, through it.
    """
    port = port or free_port()
    url = issuer or base_url(port, tls=tls)
    log_path = tmp_dir / "server.log"
    with _database(tmp_dir) as database_url:
        env = _clean_environment() | {
            "IDP_ISSUER": url,
            "IDP_DATABASE_URL": database_url,
            "IDP_SECRET_KEY": secrets.token_urlsafe(32),
        } | {f"IDP_{name}": value for name, value in settings.items()}
        server = LiveServer(url=url, env=env, log_path=log_path)
        server.cli("init")
        if prepare is not None:
            prepare(server)
        with log_path.open("wb") as log:
            process = subprocess.Popen(serve_command(port, tls=tls), cwd=ROOT, env=env, stdout=log,
                                       stderr=subprocess.STDOUT)
        try:
            _wait_until_ready(process, url, log_path)
            yield server
        finally:
            _stop(process)


def live_server_fixture(
    scope: Literal["session", "package", "module", "class", "function"] = "module",
) -> Any:
    """A pytest fixture (assign it to a module-level name) yielding a ``LiveServer``."""

    @pytest.fixture(scope=scope)
    def fixture(tmp_path_factory: pytest.TempPathFactory) -> Iterator[LiveServer]:
        with live_server(tmp_path_factory.mktemp("live")) as server:
            yield server

    return fixture


# -- several workers, several processes (tests/concurrency, tests/production) -------

@contextmanager
def fresh_database(tmp_dir: Path) -> Iterator[str]:
    """A new, empty database URL (SQLite, or PostgreSQL under ``IDP_TEST_DATABASE_URL``)."""
    with _database(tmp_dir) as url:
        yield url


def server_environment(url: str, database_url: str, **settings: str) -> dict[str, str]:
    """A server's environment: ``IDP_ISSUER=url``, the database, a new secret key, and
    ``settings`` (``REDIS_URL="redis://..."`` becomes ``IDP_REDIS_URL``)."""
    return _clean_environment() | {
        "IDP_ISSUER": url,
        "IDP_DATABASE_URL": database_url,
        "IDP_SECRET_KEY": secrets.token_urlsafe(32),
    } | {f"IDP_{name}": value for name, value in settings.items()}


@dataclass
class ServerProcess:
    """The production server started by ``production_server``, and what it serves."""

    server: LiveServer
    process: subprocess.Popen
    workers: int

    @property
    def url(self) -> str:
        return self.server.url

    def worker_pids(self) -> set[int]:
        """The main process's live (not zombie) children: its workers."""
        children = set()
        for stat in Path("/proc").glob("[0-9]*/stat"):
            try:
                state, ppid = stat.read_text().rsplit(")", 1)[1].split()[:2]
            except (OSError, ValueError):
                continue  # gone meanwhile
            if int(ppid) == self.process.pid and state != "Z":
                children.add(int(stat.parent.name))
        return children

    def ready_workers(self) -> set[int]:
        """Workers that have loaded the app: granian logs "Spawning worker-N with PID: P",
        then "Started worker-N" once the app is loaded."""
        spawned: dict[str, int] = {}
        ready = set()
        for line in self.server.log().splitlines():
            if match := re.search(r"Spawning (worker-\d+) with PID: (\d+)", line):
                spawned[match[1]] = int(match[2])
            elif (match := re.search(r"Started (worker-\d+)", line)) and match[1] in spawned:
                ready.add(spawned[match[1]])
        return ready

    def worker_name(self, pid: int) -> str | None:
        """The name ("worker-2") granian logged when it spawned ``pid``."""
        found = re.search(rf"Spawning (worker-\d+) with PID: {pid}\b", self.server.log())
        return found[1] if found else None

    def served_by(self, request_line: str, log_from: int = 0) -> list[int]:
        """The pids of the workers that answered ``request_line`` ("POST /oauth/token"),
        by the JSON access log from character ``log_from`` on."""
        pids = []
        for line in self.server.log()[log_from:].splitlines():
            if line.startswith("{"):
                entry = json.loads(line)
                if f"{entry['method']} {entry['path']}" == request_line:
                    pids.append(entry["pid"])
        return pids

    def wait_for_workers(self, timeout: float = START_TIMEOUT) -> None:
        """Until ``workers`` workers run and every one has loaded the app."""
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                raise RuntimeError(f"the server exited ({self.process.returncode}):\n"
                                   + self.server.log())
            live = self.worker_pids()
            if len(live) == self.workers and live <= self.ready_workers():
                return
            time.sleep(0.05)
        raise RuntimeError(f"the workers were not ready within {timeout} s:\n"
                           + self.server.log())


@contextmanager
def production_server(tmp_dir: Path, env: dict[str, str], *, port: int | None = None,
                      workers: int = 1, threads: int = 16, name: str = "server",
                      ) -> Iterator[ServerProcess]:
    """Serve ``env``'s database as ``make serve`` does: ``workers`` processes of
    ``threads`` threads each; a worker that dies is replaced.

    Ready when every worker has loaded the app (the listening socket is bound
    before that), so this also works while the database is unreachable.
    """
    port = port or free_port()
    tls = env["IDP_ISSUER"].startswith("https://")
    url = base_url(port, tls=tls)
    log_path = tmp_dir / f"{name}.log"
    with log_path.open("wb") as log:
        process = subprocess.Popen(serve_command(port, workers, threads, tls=tls), cwd=ROOT,
                                   env=env, stdout=log, stderr=subprocess.STDOUT)
    running = ServerProcess(LiveServer(url=url, env=env, log_path=log_path), process, workers)
    try:
        running.wait_for_workers()
        yield running
    finally:
        _stop(process)  # SIGTERM, then SIGKILL, if it is still running


def page_form(html: str) -> tuple[str, dict[str, str]]:
    """The first form of a page: its action and its hidden fields (CSRF token included)."""
    from html.parser import HTMLParser

    found: dict[str, Any] = {"action": None, "fields": {}}

    class FirstForm(HTMLParser):
        def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
            a = {k: v or "" for k, v in attrs}
            if tag == "form" and found["action"] is None:
                found["action"] = a.get("action", "")
            elif tag == "input" and a.get("type") == "hidden" and found["action"] is not None:
                found["fields"].setdefault(a.get("name", ""), a.get("value", ""))

    parser = FirstForm()
    parser.feed(html)
    parser.close()
    assert found["action"] is not None, "the page has no form"
    assert found["fields"].get("csrf_token"), "the form has no CSRF token"
    return found["action"], found["fields"]


def authorize_in_browser(browser: requests.Session, base_url: str, params: dict[str, str],
                         *, username: str = "", password: str = "", max_steps: int = 8,
                         ) -> tuple[dict[str, str], list[str]]:
    """Play a browser without JavaScript from ``/oauth/authorize?params``: sign in and
    allow on the pages met, stop at the redirect that leaves ``base_url`` (not followed).

    Returns the parameters of that redirect and the paths of the pages seen.
    """
    from urllib.parse import parse_qsl, urlencode, urljoin, urlsplit

    pages: list[str] = []
    response = browser.get(f"{base_url}/oauth/authorize?{urlencode(params)}",
                           allow_redirects=False, timeout=30)
    for _ in range(max_steps):
        with response:
            if response.is_redirect:
                location = urljoin(response.url, response.headers["Location"])
                if not location.startswith(base_url + "/"):
                    return dict(parse_qsl(urlsplit(location).query)), pages
                response = browser.get(location, allow_redirects=False, timeout=30)
                continue
            assert response.status_code == 200, (response.url, response.status_code,
                                                 response.text[:2000])
            path = urlsplit(response.url).path
            pages.append(path)
            action, data = page_form(response.text)
            if path == "/login":
                data.update(username=username, password=password)
            elif path == "/consent":
                data["decision"] = "allow"
            else:
                raise AssertionError(f"unexpected page {response.url}")
            target = urljoin(response.url, action)
        response = browser.post(target, data=data, allow_redirects=False, timeout=30)
    raise AssertionError(f"no redirect to the client after {max_steps} steps: {pages}")
