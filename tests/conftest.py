"""Fixtures: an app on a migrated database, a test client, a CLI runner, factories.

SQLite (default): the schema is migrated once into a template file that each
test copies. PostgreSQL (``IDP_TEST_DATABASE_URL``): migrated once, and every
table but the keys is emptied after each test.
"""

from __future__ import annotations

import os
import shutil
from pathlib import Path

import pytest
from flask_migrate import upgrade
from sqlalchemy import text

from idp import create_app
from idp.extensions import db
from idp.oauth import keys
from idp.services import accounts, clients, orgs

from .helpers import ISSUER, PASSWORD, REDIRECT_URI, OAuthClient, Tokens, get_code
from .tls import certificates

PG_URL = os.environ.get("IDP_TEST_DATABASE_URL")
SECRET = "test-secret-key-not-for-production"


def _config(database_url: str, **extra) -> dict:
    # The production setting: the per-process client cache, and with it the fast
    # client_credentials path. Tests change clients through the services, which
    # tell this process's cache, as the console and the command line do.
    return {"ISSUER": ISSUER, "DATABASE_URL": database_url, "SECRET_KEY": SECRET,
            "TESTING": True, **extra}


@pytest.fixture(scope="session")
def database_url(tmp_path_factory) -> str:
    """A migrated database with signing keys: the state every test starts from."""
    url = PG_URL or "sqlite:///" + str(tmp_path_factory.mktemp("db") / "template.sqlite3")
    app = create_app(_config(url))
    with app.app_context():
        if PG_URL:
            db.session.execute(text("DROP SCHEMA public CASCADE; CREATE SCHEMA public"))
            db.session.commit()
        upgrade(directory=app.extensions["migrate"].directory)
        keys.ensure_keys()
        db.session.commit()
        db.engine.dispose()
    return url


@pytest.fixture
def make_app(database_url, tmp_path):
    """Apps on a fresh copy of the migrated database, with config overrides.

    No application context stays pushed: each test-client request gets its
    own, as in production (a shared one would share ``g`` between requests).
    Every app's connections are closed at the end; on PostgreSQL the tables
    (all but the current keys) are emptied.
    """
    made = []

    def make(**overrides):
        if PG_URL:
            url = database_url
        else:
            copy = tmp_path / f"idp{len(made)}.sqlite3"
            shutil.copyfile(Path(database_url.removeprefix("sqlite:///")), copy)
            url = "sqlite:///" + str(copy)
        made.append(create_app(_config(url, **overrides)))
        return made[-1]

    yield make
    for index, app in enumerate(made):
        with app.app_context():
            if PG_URL and index == 0:
                tables = [t.name for t in db.metadata.sorted_tables if t.name != "signing_keys"]
                db.session.execute(text(f"TRUNCATE {', '.join(tables)} CASCADE"))
                db.session.execute(text("DELETE FROM signing_keys WHERE retired_at IS NOT NULL"))
                db.session.commit()
            db.session.remove()
            db.engine.dispose()


@pytest.fixture
def app(make_app):
    return make_app()


@pytest.fixture
def client(app):
    return app.test_client()


@pytest.fixture
def runner(app):
    return app.test_cli_runner()


# -- factories ----------------------------------------------------------------


@pytest.fixture
def make_user(app):
    def make(username="alice", email=None, password=PASSWORD, **kwargs):
        with app.app_context():
            user = accounts.create_user(username, email or f"{username}@example.com", password,
                                        **kwargs)
            db.session.commit()
            return user

    return make


@pytest.fixture
def make_org(app):
    def make(slug="acme", name=None, members=()):
        with app.app_context():
            org = orgs.create_org(slug, name or slug.title())
            db.session.flush()
            for user in members:
                orgs.add_member(org, db.session.merge(user))
            db.session.commit()
            return org

    return make



@pytest.fixture
def make_client(app):
    def make(client_id="web", **kwargs):
        kwargs.setdefault("redirect_uris", [REDIRECT_URI])
        with app.app_context():
            new = clients.create_client(kwargs.pop("name", f"{client_id} app"),
                                        client_id=client_id, **kwargs)
            db.session.commit()
            return new

    return make


@pytest.fixture
def alice(make_user):
    return make_user("alice", given_name="Alice", family_name="Anders", email_verified=True)


@pytest.fixture
def web(make_client):
    """A confidential client with the refresh_token grant."""
    return make_client("web")


@pytest.fixture
def oauth(client):
    """Drives the browser side of the flow through the test client."""
    return OAuthClient(client)


@pytest.fixture
def endpoint(client):
    return Tokens(client)


@pytest.fixture
def code_tokens(oauth, alice, web, endpoint):
    """A fresh code redemption for alice at the ``web`` client."""

    def issue(scope="openid profile email offline_access", **extra):
        assert oauth.login("alice", PASSWORD).status_code == 303
        code = get_code(oauth, scope=scope)
        return endpoint.ok({"grant_type": "authorization_code", "code": code,
                            "redirect_uri": REDIRECT_URI, **extra}, "web", web.client_secret)

    return issue


def pytest_configure(config: pytest.Config) -> None:
    """Every HTTP client in the tests trusts the test run's CA, and only through this:
    the live servers present certificates it signed (``tests/tls.py``)."""
    os.environ["REQUESTS_CA_BUNDLE"] = str(certificates().ca_path)
    os.environ["NODE_EXTRA_CA_CERTS"] = str(certificates().ca_path)


class Clock:
    """The application's clock (``idp.clock``), stopped; a test moves it."""

    def __init__(self, at: float) -> None:
        self.at = at

    def time(self) -> float:
        return self.at

    def advance(self, seconds: float) -> None:
        self.at += seconds


@pytest.fixture
def clock(monkeypatch) -> Clock:
    """Stop the application's clock two minutes ago (``clock.advance`` moves it): a test
    may move it on by that much and still get tokens a verifier accepts now."""
    import time

    stopped = Clock(float(int(time.time()) - 120))
    monkeypatch.setattr("idp.clock.time", stopped)
    return stopped
