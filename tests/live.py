"""A real server process for live tests: gunicorn on a free port, a fresh database.

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

import base64
import hashlib
import json
import os
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
from joserfc import jwt
from joserfc.jwk import KeySet

ROOT = Path(__file__).resolve().parents[1]
# The console scripts of the interpreter running the tests: works from any venv.
BIN = Path(sys.executable).parent
START_TIMEOUT = 20.0
CLI_TIMEOUT = 60.0
STOP_TIMEOUT = 10.0


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


def _stop(process: subprocess.Popen) -> None:
    if process.poll() is None:
        process.terminate()  # gunicorn shuts down gracefully on SIGTERM
        try:
            process.wait(timeout=STOP_TIMEOUT)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()


@contextmanager
def live_server(tmp_dir: Path, prepare: Callable[[LiveServer], None] | None = None,
                ) -> Iterator[LiveServer]:
    """Initialise a fresh database, run ``prepare`` (CLI set-up), serve with gunicorn."""
    port = free_port()
    url = f"http://127.0.0.1:{port}"
    log_path = tmp_dir / "server.log"
    with _database(tmp_dir) as database_url:
        env = _clean_environment() | {
            "IDP_ISSUER": url,
            "IDP_DATABASE_URL": database_url,
            "IDP_SECRET_KEY": secrets.token_urlsafe(32),
        }
        server = LiveServer(url=url, env=env, log_path=log_path)
        server.cli("init")
        if prepare is not None:
            prepare(server)
        with log_path.open("wb") as log:
            process = subprocess.Popen(
                [str(BIN / "gunicorn"), "--workers", "1", "--bind", f"127.0.0.1:{port}",
                 "--access-logfile", "-", "app:app"],
                cwd=ROOT, env=env, stdout=log, stderr=subprocess.STDOUT,
            )
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


# -- what every live test checks on the tokens it gets ------------------------------


def half_hash(value: str) -> str:
    """``at_hash`` for an RS256/ES256 ID token: left half of SHA-256, base64url."""
    digest = hashlib.sha256(value.encode("ascii")).digest()
    return base64.urlsafe_b64encode(digest[:16]).rstrip(b"=").decode("ascii")


def verify_jwt(token: str, jwks: dict[str, Any], alg: str, **expected: Any,
               ) -> tuple[dict[str, Any], dict[str, Any]]:
    """Verify the signature with the published keys and the claims; return (header, claims).

    ``expected`` names claims that must be present with exactly that value;
    exp must lie ahead and iat not in the future.
    """
    decoded = jwt.decode(token, KeySet.import_key_set(jwks), algorithms=[alg])
    header, claims = decoded.header, decoded.claims
    assert header["alg"] == alg, header
    assert header.get("kid") in {k.get("kid") for k in jwks["keys"]}, header
    registry = jwt.JWTClaimsRegistry(
        leeway=5,
        exp={"essential": True},
        iat={"essential": True},
        **{name: {"essential": True, "value": value} for name, value in expected.items()},
    )
    registry.validate(claims)  # values, and exp/iat against the clock
    assert claims["exp"] > time.time(), claims  # no leeway for expiry
    return header, claims
