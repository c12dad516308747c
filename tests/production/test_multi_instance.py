"""Several instances behind one issuer: two servers, one PostgreSQL, one Redis.

Both processes run with the same settings (issuer, secret key, database,
Redis), as two hosts behind a load balancer would; each is reached on its own
port. A browser signed in on A is signed in on B, a code issued by A is
redeemed on B, a refresh token rotated on B and replayed on A revokes the
family everywhere, and failed logins count towards one limit through Redis.
"""

from __future__ import annotations

import os
import secrets
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

import pytest
import redis
import requests

from tests.live import (
    LiveServer,
    ServerProcess,
    at_hash,
    authorize_in_browser,
    base_url,
    free_port,
    fresh_database,
    page_form,
    production_server,
    server_environment,
    verify_jwt,
)

REDIS_HOST, REDIS_PORT, REDIS_DB = "127.0.0.1", 6379, 13
USERNAME, PASSWORD = "roamer", "two hosts battery staple"
SCOPE = "openid profile email offline_access"
LOGIN_LIMIT = 4  # failed logins per address and minute, for this module
SESSION_COOKIE = "__Host-idp_session"  # the name for an https:// issuer
TIMEOUT = 30


def _redis_answers() -> bool:
    try:
        with redis.Redis(host=REDIS_HOST, port=REDIS_PORT, socket_timeout=1) as client:
            return bool(client.ping())
    except redis.RedisError:
        return False


pytestmark = [
    pytest.mark.live,
    pytest.mark.skipif(not os.environ.get("IDP_TEST_DATABASE_URL", "").startswith("postgresql"),
                       reason="several instances share one PostgreSQL database: "
                              "set IDP_TEST_DATABASE_URL (make test-postgres)"),
    pytest.mark.skipif(not _redis_answers(),
                       reason=f"no Redis answers on {REDIS_HOST}:{REDIS_PORT}"),
]


@dataclass
class Cluster:
    issuer: str  # A's URL: the one issuer of both
    a: ServerProcess
    b: ServerProcess
    user_id: str
    client_id: str
    client_secret: str
    redirect_uri: str

    def token(self, server: ServerProcess, **data: str) -> requests.Response:
        return requests.post(f"{server.url}/oauth/token", data=data, timeout=TIMEOUT,
                             auth=(self.client_id, self.client_secret))

    def tokens(self, server: ServerProcess, nonce: str | None = None, **data: str,
               ) -> dict[str, Any]:
        """A successful token response, every JWT verified against both JWKS."""
        with self.token(server, **data) as response:
            assert response.status_code == 200, (response.text, server.server.log()[-5000:])
            body = response.json()
        expected = {"nonce": nonce} if nonce else {}
        for jwks in (self.a.server.jwks(), self.b.server.jwks()):
            header, claims = verify_jwt(body["access_token"], jwks, "Ed25519", iss=self.issuer,
                                        sub=self.user_id, client_id=self.client_id)
            assert header["typ"] == "at+jwt"
            _, id_claims = verify_jwt(body["id_token"], jwks, "RS256", iss=self.issuer,
                                      sub=self.user_id, aud=self.client_id, **expected)
            assert id_claims["at_hash"] == at_hash(body["access_token"])
            assert id_claims["sid"] == claims["sid"]
        body["claims"] = claims
        return body

    def userinfo(self, server: ServerProcess, access_token: str) -> int:
        with requests.get(f"{server.url}/oauth/userinfo", timeout=TIMEOUT,
                          headers={"Authorization": f"Bearer {access_token}"}) as response:
            if response.status_code == 200:
                assert response.json()["sub"] == self.user_id
            return response.status_code

    def authorize(self, server: ServerProcess, browser: requests.Session,
                  pages: list[str]) -> tuple[str, str]:
        """A code from ``server`` through the pages; return (code, nonce)."""
        nonce, state = secrets.token_urlsafe(12), secrets.token_urlsafe(8)
        params, seen = authorize_in_browser(browser, server.url, {
            "response_type": "code", "client_id": self.client_id, "scope": SCOPE,
            "redirect_uri": self.redirect_uri, "state": state, "nonce": nonce,
        }, username=USERNAME, password=PASSWORD)
        assert seen == pages
        assert params["state"] == state
        assert params["iss"] == self.issuer  # B answers as the one issuer too
        return params["code"], nonce


def _flush_redis() -> None:
    with redis.Redis(host=REDIS_HOST, port=REDIS_PORT, db=REDIS_DB) as client:
        client.flushdb()


@pytest.fixture(scope="module")
def cluster(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Cluster]:
    tmp = tmp_path_factory.mktemp("multi_instance")
    port_a, port_b = free_port(), free_port()
    issuer = base_url(port_a)
    _flush_redis()
    with fresh_database(tmp) as database_url:
        env = server_environment(
            issuer, database_url,
            REDIS_URL=f"redis://{REDIS_HOST}:{REDIS_PORT}/{REDIS_DB}",
            ALLOWED_HOSTS=f"localhost:{port_a},localhost:{port_b}",
            RATE_LIMIT_LOGIN_IP=f"{LOGIN_LIMIT}/minute",
        )
        admin = LiveServer(url=issuer, env=env, log_path=tmp / "a.log")
        admin.cli("init")
        user = admin.cli_json("users", "create", USERNAME, "--email", "roamer@example.com",
                              "--password", PASSWORD)
        redirect_uri = f"http://127.0.0.1:{free_port()}/callback"  # nobody listens
        client = admin.cli_json("clients", "create", "--name", "Roaming App",
                                "--redirect-uri", redirect_uri, "--scope", SCOPE)
        try:
            with production_server(tmp, env, port=port_a, threads=2, name="a") as a, \
                    production_server(tmp, env, port=port_b, threads=2, name="b") as b:
                yield Cluster(issuer, a, b, user["id"], client["client_id"],
                              client["client_secret"], redirect_uri)
        finally:
            _flush_redis()


@pytest.fixture(scope="module")
def browser_a(cluster: Cluster) -> Iterator[requests.Session]:
    """A browser signed in on A (and consented there)."""
    with requests.Session() as browser:
        cluster.authorize(cluster.a, browser, ["/login", "/consent"])
        yield browser


def test_discovery_names_one_issuer(cluster: Cluster) -> None:
    document_a, document_b = cluster.a.server.discovery(), cluster.b.server.discovery()
    assert document_a == document_b
    assert document_a["issuer"] == cluster.issuer
    assert cluster.a.server.jwks() == cluster.b.server.jwks()


def test_login_on_a_is_valid_on_b(cluster: Cluster, browser_a: requests.Session) -> None:
    cookie = browser_a.cookies.get(SESSION_COOKIE)
    assert cookie, browser_a.cookies
    with requests.Session() as browser_b:
        # Only A's session cookie: no login page, no consent page on B.
        browser_b.cookies.set(SESSION_COOKIE, cookie)
        code, nonce = cluster.authorize(cluster.b, browser_b, [])
    # ... and B's code is good on A.
    body = cluster.tokens(cluster.a, nonce, grant_type="authorization_code", code=code,
                          redirect_uri=cluster.redirect_uri)
    assert cluster.userinfo(cluster.a, body["access_token"]) == 200
    assert cluster.userinfo(cluster.b, body["access_token"]) == 200


def test_code_issued_by_a_is_redeemed_on_b(cluster: Cluster,
                                           browser_a: requests.Session) -> None:
    code, nonce = cluster.authorize(cluster.a, browser_a, [])
    body = cluster.tokens(cluster.b, nonce, grant_type="authorization_code", code=code,
                          redirect_uri=cluster.redirect_uri)
    assert cluster.userinfo(cluster.a, body["access_token"]) == 200
    # A replay on A is recognised and revokes what B issued.
    with cluster.token(cluster.a, grant_type="authorization_code", code=code,
                       redirect_uri=cluster.redirect_uri) as replay:
        assert replay.status_code == 400, replay.text
        assert replay.json()["error"] == "invalid_grant"
    assert cluster.userinfo(cluster.b, body["access_token"]) == 401


def test_refresh_on_b_revokes_the_family_on_a(cluster: Cluster,
                                              browser_a: requests.Session) -> None:
    code, nonce = cluster.authorize(cluster.a, browser_a, [])
    first = cluster.tokens(cluster.a, nonce, grant_type="authorization_code", code=code,
                           redirect_uri=cluster.redirect_uri)
    second = cluster.tokens(cluster.b, grant_type="refresh_token",
                            refresh_token=first["refresh_token"])
    assert second["refresh_token"] != first["refresh_token"]
    assert cluster.userinfo(cluster.a, second["access_token"]) == 200

    # The rotated token comes back on A: reuse, the family ends everywhere.
    with cluster.token(cluster.a, grant_type="refresh_token",
                       refresh_token=first["refresh_token"]) as replay:
        assert replay.status_code == 400, replay.text
        assert replay.json()["error"] == "invalid_grant"
    assert cluster.userinfo(cluster.a, second["access_token"]) == 401
    assert cluster.userinfo(cluster.b, first["access_token"]) == 401
    with cluster.token(cluster.a, grant_type="refresh_token",
                       refresh_token=second["refresh_token"]) as newest:
        assert newest.status_code == 400, newest.text
        assert newest.json()["error"] == "invalid_grant"


def _failed_login(server: ServerProcess, browser: requests.Session) -> requests.Response:
    with browser.get(f"{server.url}/login", timeout=TIMEOUT) as page:
        assert page.status_code == 200, page.text
        _, data = page_form(page.text)
    data.update(username=USERNAME, password="not the password at all")
    return browser.post(f"{server.url}/login", data=data, allow_redirects=False,
                        timeout=TIMEOUT)


def test_failed_logins_count_across_instances(cluster: Cluster) -> None:
    _flush_redis()  # nothing counted before this test
    try:
        with requests.Session() as on_a, requests.Session() as on_b:
            for attempt in range(LOGIN_LIMIT):
                server, browser = (cluster.a, on_a) if attempt % 2 == 0 else (cluster.b, on_b)
                with _failed_login(server, browser) as response:
                    assert response.status_code == 401, (attempt, response.text)
                    assert "Wrong username or password" in response.text
            # Two failures on each host; the limit is four per address, shared.
            for server, browser in ((cluster.a, on_a), (cluster.b, on_b)):
                with _failed_login(server, browser) as response:
                    assert response.status_code == 429, (server.url, response.text)
                    retry_after = int(response.headers["Retry-After"])
                    assert 0 < retry_after <= 60, retry_after
    finally:
        _flush_redis()  # later logins are not locked out
