"""Sign in through the real pages with Debian's chromium, then check the tokens.

The relying party is a tiny HTTP server on another loopback port: what it
receives is exactly what a real browser delivered (a redirect's query, or the
POST of a form_post page), not what the IdP meant to send.
"""

from __future__ import annotations

import secrets
import threading
from collections.abc import Iterator
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import parse_qs, quote, urlencode, urlsplit

import pytest
import requests
from playwright.sync_api import Browser, Page, expect, sync_playwright

from tests.helpers import pkce_pair
from tests.live import LiveServer, half_hash, live_server_fixture, verify_jwt

pytestmark = [pytest.mark.live, pytest.mark.browser]

CHROMIUM = "/usr/bin/chromium"
CHROMIUM_ARGS = ["--no-sandbox", "--disable-gpu", "--disable-background-networking",
                 "--disable-component-update", "--disable-sync", "--no-first-run",
                 "--disable-quic"]
PASSWORD = "browser horse battery staple"
SCOPE = "openid profile email org"
# Everything that breaks naive encoding: spaces, both quotes, &, <>, +, %, #, =.
STATE = """a state with "double" and 'single' quotes & <b>tags</b> + 100% #frag =x"""
TIMEOUT_MS = 10_000

server = live_server_fixture()


# -- the relying party's callback ----------------------------------------------------------


@dataclass
class Received:
    method: str
    query: str
    content_type: str
    body: str


@dataclass
class Callback:
    """What arrived at ``/callback``, in order; ``wait`` blocks until the next one."""

    url: str = ""  # known once the server is bound
    requests: list[Received] = field(default_factory=list)
    arrived: threading.Condition = field(default_factory=threading.Condition)

    def record(self, received: Received) -> None:
        with self.arrived:
            self.requests.append(received)
            self.arrived.notify_all()

    def wait(self, count: int, timeout: float = TIMEOUT_MS / 1000) -> list[Received]:
        with self.arrived:
            assert self.arrived.wait_for(lambda: len(self.requests) >= count, timeout), \
                f"the callback received {len(self.requests)} request(s), expected {count}"
            return list(self.requests)


def _handler(callback: Callback) -> type[BaseHTTPRequestHandler]:
    class Handler(BaseHTTPRequestHandler):
        def _answer(self, status: int) -> None:
            body = b"<!doctype html><title>Back at the app</title><p>Signed in.</p>"
            self.send_response(status)
            self.send_header("Content-Type", "text/html; charset=utf-8")
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

        def _record(self, body: str) -> None:
            parts = urlsplit(self.path)
            if parts.path != "/callback":
                self._answer(404)  # e.g. the browser's /favicon.ico
                return
            callback.record(Received(self.command, parts.query,
                                     self.headers.get("Content-Type", ""), body))
            self._answer(200)

        def do_GET(self) -> None:
            self._record("")

        def do_POST(self) -> None:
            length = int(self.headers.get("Content-Length") or 0)
            self._record(self.rfile.read(length).decode("utf-8"))

        def log_message(self, format: str, *args: Any) -> None:
            pass  # keep pytest's output to the failures

    return Handler


@pytest.fixture
def callback() -> Iterator[Callback]:
    result = Callback()
    httpd = ThreadingHTTPServer(("127.0.0.1", 0), _handler(result))
    result.url = f"http://127.0.0.1:{httpd.server_address[1]}/callback"
    thread = threading.Thread(target=httpd.serve_forever, daemon=True)
    thread.start()
    try:
        yield result
    finally:
        httpd.shutdown()
        httpd.server_close()
        thread.join(timeout=5)


# -- the identity provider's data --------------------------------------------------------


@dataclass
class Account:
    user_id: str
    username: str
    email: str
    orgs: dict[str, str]  # slug -> id


@pytest.fixture(scope="module")
def account(server: LiveServer) -> Account:
    """A user in two organizations, so the organization page appears."""
    username = "bea"
    email = "bea@example.com"
    user = server.cli_json("users", "create", username, "--email", email, "--password",
                           PASSWORD, "--given-name", "Bea", "--family-name", "Brown",
                           "--email-verified")
    orgs = {}
    for slug, name in (("north", "North Ltd"), ("south", "South GmbH")):
        orgs[slug] = server.cli_json("orgs", "create", slug, "--name", name)["id"]
        server.cli("orgs", "add-member", slug, username)
    return Account(user["id"], username, email, orgs)


def make_client(server: LiveServer, name: str, redirect_uri: str) -> dict[str, str]:
    """A confidential client of its own, so each test meets the consent page."""
    return server.cli_json("clients", "create", "--name", name, "--redirect-uri", redirect_uri,
                           "--scope", SCOPE)


# -- the browser -----------------------------------------------------------------------------


@pytest.fixture(scope="module")
def browser() -> Iterator[Browser]:
    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path=CHROMIUM, headless=True, args=CHROMIUM_ARGS)
        try:
            yield browser
        finally:
            browser.close()


@pytest.fixture
def page(browser: Browser) -> Iterator[Page]:
    """A fresh context: no cookies, so every test signs in."""
    context = browser.new_context()
    context.set_default_timeout(TIMEOUT_MS)
    try:
        yield context.new_page()
    finally:
        context.close()


def sign_in(page: Page, server: LiveServer, account: Account, client: dict[str, str],
            client_name: str, org: str, authorize_url: str) -> None:
    """Log in, choose ``org``, allow: the browser ends up at the client."""
    page.goto(authorize_url)
    page.wait_for_url(f"{server.url}/login?**")
    page.fill("input[name=username]", account.username)
    page.fill("input[name=password]", PASSWORD)
    page.locator("form button[type=submit]").click()

    page.wait_for_url(f"{server.url}/select-org?**")
    expect(page.locator("button[name=org]")).to_have_count(len(account.orgs))
    page.locator(f"button[name=org][value={org}]").click()

    page.wait_for_url(f"{server.url}/consent?**")
    expect(page.locator("h1")).to_contain_text(client_name)
    for scope in SCOPE.split():
        words = page.locator(f'[data-scope="{scope}"]').inner_text().strip()
        # Plain words: a phrase, not the bare scope token echoed back.
        assert len(words.split()) >= 3, (scope, words)
    expect(page.locator('[data-scope="email"]')).to_contain_text("email")
    expect(page.locator('[data-scope="org"]')).to_contain_text("organization")
    page.locator("button[name=decision][value=allow]").click()


def authorize_url(server: LiveServer, client_id: str, redirect_uri: str, nonce: str,
                  challenge: str, **extra: str) -> str:
    params = {"response_type": "code", "client_id": client_id, "redirect_uri": redirect_uri,
              "scope": SCOPE, "state": STATE, "nonce": nonce, "code_challenge": challenge,
              "code_challenge_method": "S256", **extra}
    return f"{server.url}/oauth/authorize?" + urlencode(params, quote_via=quote)


def exchange_and_verify(server: LiveServer, client: dict[str, str], redirect_uri: str,
                        code: str, verifier: str, nonce: str, account: Account,
                        org: str) -> None:
    """Redeem the code (client_secret_basic, PKCE) and verify both tokens."""
    with requests.post(
        f"{server.url}/oauth/token",
        data={"grant_type": "authorization_code", "code": code, "redirect_uri": redirect_uri,
              "code_verifier": verifier},
        auth=(client["client_id"], client["client_secret"]), timeout=10,
    ) as response:
        assert response.status_code == 200, response.text
        assert response.headers["Cache-Control"] == "no-store"
        tokens = response.json()
    assert tokens["token_type"] == "Bearer"
    assert set(tokens["scope"].split()) == set(SCOPE.split())

    jwks = server.jwks()
    _, id_claims = verify_jwt(tokens["id_token"], jwks, "RS256", iss=server.url,
                              aud=client["client_id"], sub=account.user_id, nonce=nonce)
    assert id_claims["aud"] == client["client_id"]
    assert id_claims["at_hash"] == half_hash(tokens["access_token"])
    assert id_claims["sid"]
    assert id_claims["email"] == account.email
    assert id_claims["org_id"] == account.orgs[org]

    header, at_claims = verify_jwt(tokens["access_token"], jwks, "Ed25519", iss=server.url,
                                   sub=account.user_id, client_id=client["client_id"])
    assert header["typ"] == "at+jwt"
    assert at_claims["jti"]
    assert at_claims["sid"] == id_claims["sid"]
    assert at_claims["org_id"] == account.orgs[org]
    assert set(at_claims["scope"].split()) == set(SCOPE.split())


# -- the tests -------------------------------------------------------------------------------


def test_query_response_mode(server: LiveServer, account: Account, callback: Callback,
                             page: Page) -> None:
    client = make_client(server, "Query Demo App", callback.url)
    verifier, challenge = pkce_pair()
    nonce = secrets.token_urlsafe(16)

    sign_in(page, server, account, client, "Query Demo App", "north",
            authorize_url(server, client["client_id"], callback.url, nonce, challenge))
    page.wait_for_url(f"{callback.url}?**")

    [received] = callback.wait(1)
    assert received.method == "GET"
    params = parse_qs(received.query, keep_blank_values=True, strict_parsing=True)
    assert params["state"] == [STATE]  # byte for byte, through the whole round trip
    assert params["iss"] == [server.url]
    [code] = params["code"]
    exchange_and_verify(server, client, callback.url, code, verifier, nonce, account, "north")


def test_form_post_response_mode(server: LiveServer, account: Account, callback: Callback,
                                 page: Page) -> None:
    client = make_client(server, "Form Post Demo App", callback.url)
    verifier, challenge = pkce_pair()
    nonce = secrets.token_urlsafe(16)

    sign_in(page, server, account, client, "Form Post Demo App", "south",
            authorize_url(server, client["client_id"], callback.url, nonce, challenge,
                          response_mode="form_post"))
    # The IdP's page submits itself: the browser lands on the callback by POST.
    page.wait_for_url(callback.url)

    posts = [r for r in callback.wait(1) if r.method == "POST"]
    assert len(posts) == 1, callback.requests
    assert all("code" not in parse_qs(r.query) for r in callback.requests), callback.requests
    assert posts[0].content_type.split(";")[0].strip() == "application/x-www-form-urlencoded"
    params = parse_qs(posts[0].body, keep_blank_values=True, strict_parsing=True)
    assert params["state"] == [STATE]
    assert params["iss"] == [server.url]
    [code] = params["code"]
    exchange_and_verify(server, client, callback.url, code, verifier, nonce, account, "south")
