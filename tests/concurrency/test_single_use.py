"""Single use under real concurrency: 20 simultaneous redemptions against the production server.

A code, then a refresh token, is presented by 20 threads at once (separate
connections, released together by a barrier) to a server with several worker
processes of several threads each, on SQLite or, under ``IDP_TEST_DATABASE_URL``,
PostgreSQL. Exactly one request may win; the other 19 get ``invalid_grant``
(never a 500), and since they are replays they revoke what the winner got:
its access token dies at UserInfo and its refresh token at the token endpoint.
"""

from __future__ import annotations

import secrets
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

import pytest
import requests

from tests.live import (
    LiveServer,
    ServerProcess,
    at_hash,
    authorize_in_browser,
    base_url,
    free_port,
    fresh_database,
    production_server,
    server_environment,
    verify_jwt,
)

pytestmark = pytest.mark.live

PARALLEL = 20
WORKERS, THREADS = 4, 4
USERNAME, PASSWORD = "racer", "concurrency horse battery staple"
SCOPE = "openid profile offline_access"
TIMEOUT = 60


@dataclass
class Setup:
    server: ServerProcess
    browser: requests.Session  # signed in after the first authorization
    user_id: str
    client_id: str
    client_secret: str
    redirect_uri: str

    @property
    def url(self) -> str:
        return self.server.url


@pytest.fixture(scope="module")
def setup(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Setup]:
    tmp = tmp_path_factory.mktemp("single_use")
    port = free_port()
    url = base_url(port)
    with fresh_database(tmp) as database_url:
        # Rate limits are not under test: 4 x 19 failures must not trip them.
        env = server_environment(url, database_url, RATE_LIMIT_TOKEN_IP="10000/minute")
        admin = LiveServer(url=url, env=env, log_path=tmp / "server.log")
        admin.cli("init")
        user = admin.cli_json("users", "create", USERNAME, "--email", "racer@example.com",
                              "--password", PASSWORD)
        redirect_uri = f"http://127.0.0.1:{free_port()}/callback"  # nobody listens
        client = admin.cli_json("clients", "create", "--name", "Racer", "--redirect-uri",
                                redirect_uri, "--scope", SCOPE, "--skip-consent")
        with production_server(tmp, env, port=port, workers=WORKERS, threads=THREADS) as server, \
                requests.Session() as browser:
            yield Setup(server, browser, user["id"], client["client_id"],
                        client["client_secret"], redirect_uri)


def new_code(setup: Setup, expected_pages: list[str]) -> tuple[str, str]:
    """A fresh code through the real pages (login the first time); return (code, nonce)."""
    nonce = secrets.token_urlsafe(12)
    state = secrets.token_urlsafe(8)
    params, pages = authorize_in_browser(setup.browser, setup.url, {
        "response_type": "code", "client_id": setup.client_id,
        "redirect_uri": setup.redirect_uri, "scope": SCOPE, "state": state, "nonce": nonce,
    }, username=USERNAME, password=PASSWORD)
    assert pages == expected_pages
    assert params["state"] == state, params
    assert params["iss"] == setup.url, params
    return params["code"], nonce


@dataclass
class Outcome:
    status: int | None
    body: Any
    text: str


def race(setup: Setup, data: dict[str, str]) -> list[Outcome]:
    """POST ``data`` to the token endpoint from PARALLEL threads released together."""
    barrier = threading.Barrier(PARALLEL)
    outcomes: list[Outcome | None] = [None] * PARALLEL
    log_from = len(setup.server.server.log())

    def one(i: int) -> None:
        try:
            with requests.Session() as http:
                http.auth = (setup.client_id, setup.client_secret)
                barrier.wait(timeout=TIMEOUT)
                with http.post(f"{setup.url}/oauth/token", data=data,
                               timeout=TIMEOUT) as response:
                    try:
                        body = response.json()
                    except ValueError:
                        body = None
                    outcomes[i] = Outcome(response.status_code, body, response.text)
        except Exception as error:  # reported by the assertion below, not lost in a thread
            outcomes[i] = Outcome(None, None, repr(error))

    threads = [threading.Thread(target=one, args=(i,)) for i in range(PARALLEL)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(TIMEOUT + 10)
    assert all(o is not None for o in outcomes), "a request thread did not finish"
    # Real parallelism: several processes answered (the log line follows the answer).
    deadline = time.monotonic() + 5
    while len(pids := setup.server.served_by("POST /oauth/token", log_from)) < PARALLEL:
        assert time.monotonic() < deadline, (pids, setup.server.server.log()[log_from:])
        time.sleep(0.05)
    assert len(set(pids)) > 1, f"one worker served all {PARALLEL} requests: {pids}"
    return [o for o in outcomes if o is not None]


def exactly_one_winner(setup: Setup, outcomes: list[Outcome]) -> dict[str, Any]:
    """One 200, and invalid_grant for the rest; the server log on any other result."""
    winners = [o for o in outcomes if o.status == 200]
    losers = [o for o in outcomes if o.status != 200]
    ok = (len(winners) == 1 and len(losers) == PARALLEL - 1
          and all(o.status == 400 and isinstance(o.body, dict)
                  and o.body.get("error") == "invalid_grant" for o in losers))
    if not ok:
        summary = "\n".join(f"{o.status} {o.text[:300]}" for o in outcomes)
        pytest.fail(f"expected one 200 and {PARALLEL - 1} invalid_grant, got:\n{summary}\n"
                    f"--- server log ---\n{setup.server.server.log()[-20000:]}")
    log = setup.server.server.log()
    assert "Traceback" not in log, log[-20000:]
    return winners[0].body


def check_tokens(setup: Setup, body: dict[str, Any], nonce: str | None) -> dict[str, Any]:
    """Verify the signatures against the JWKS and the claims that matter here."""
    jwks = setup.server.server.jwks()
    header, claims = verify_jwt(body["access_token"], jwks, "Ed25519", iss=setup.url,
                                sub=setup.user_id, client_id=setup.client_id)
    assert header["typ"] == "at+jwt"
    expected = {"nonce": nonce} if nonce else {}
    _, id_claims = verify_jwt(body["id_token"], jwks, "RS256", iss=setup.url,
                              sub=setup.user_id, aud=setup.client_id, **expected)
    assert id_claims["at_hash"] == at_hash(body["access_token"])
    assert body["refresh_token"]
    return claims


def userinfo_status(setup: Setup, access_token: str) -> int:
    with requests.get(f"{setup.url}/oauth/userinfo", timeout=TIMEOUT,
                      headers={"Authorization": f"Bearer {access_token}"}) as response:
        if response.status_code == 401:
            assert 'error="invalid_token"' in response.headers["WWW-Authenticate"]
        return response.status_code


def refresh(setup: Setup, refresh_token: str) -> requests.Response:
    return requests.post(f"{setup.url}/oauth/token", timeout=TIMEOUT,
                         auth=(setup.client_id, setup.client_secret),
                         data={"grant_type": "refresh_token", "refresh_token": refresh_token})


def assert_invalid_grant(response: requests.Response) -> None:
    with response:
        assert response.status_code == 400, response.text
        assert response.json()["error"] == "invalid_grant", response.text


def test_one_code_redeemed_twenty_times_at_once(setup: Setup) -> None:
    code, nonce = new_code(setup, ["/login"])
    outcomes = race(setup, {"grant_type": "authorization_code", "code": code,
                            "redirect_uri": setup.redirect_uri})
    winner = exactly_one_winner(setup, outcomes)
    check_tokens(setup, winner, nonce)

    # The 19 replays revoked what the first redemption issued.
    assert userinfo_status(setup, winner["access_token"]) == 401
    assert_invalid_grant(refresh(setup, winner["refresh_token"]))


def test_one_refresh_token_used_twenty_times_at_once(setup: Setup) -> None:
    code, nonce = new_code(setup, [])  # signed in already: straight back with a code
    with requests.post(f"{setup.url}/oauth/token", timeout=TIMEOUT,
                       auth=(setup.client_id, setup.client_secret),
                       data={"grant_type": "authorization_code", "code": code,
                             "redirect_uri": setup.redirect_uri}) as response:
        assert response.status_code == 200, response.text
        first = response.json()
    check_tokens(setup, first, nonce)
    assert userinfo_status(setup, first["access_token"]) == 200

    outcomes = race(setup, {"grant_type": "refresh_token",
                            "refresh_token": first["refresh_token"]})
    winner = exactly_one_winner(setup, outcomes)
    check_tokens(setup, winner, None)
    assert winner["refresh_token"] != first["refresh_token"]

    # The reuse of the rotated token revoked the whole family, the winner's share too.
    assert_invalid_grant(refresh(setup, winner["refresh_token"]))
    assert userinfo_status(setup, winner["access_token"]) == 401
    assert userinfo_status(setup, first["access_token"]) == 401
