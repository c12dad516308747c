"""Sign in through the real pages with Debian's chromium, then check the tokens.

The relying party is a tiny HTTP server on another loopback port: what it
receives is exactly what a real browser delivered (a redirect's query, or the
POST of a form_post page), not what the IdP meant to send.
"""

from __future__ import annotations

import secrets
from dataclasses import dataclass
from urllib.parse import parse_qs, quote, urlencode

import pytest
import requests
from playwright.sync_api import Page, expect

from tests.helpers import pkce_pair
from tests.live import LiveServer, at_hash, live_server_fixture, verify_jwt

from .support import Callback

pytestmark = [pytest.mark.live, pytest.mark.browser]

PASSWORD = "browser horse battery staple"
SCOPE = "openid profile email org"
# Everything that breaks naive encoding: spaces, both quotes, &, <>, +, %, #, =.
STATE = """a state with "double" and 'single' quotes & <b>tags</b> + 100% #frag =x"""

server = live_server_fixture()


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
    assert id_claims["at_hash"] == at_hash(tokens["access_token"])
    assert id_claims["sid"]
    assert "email" not in id_claims  # by scope, at UserInfo (OIDC Core §5.4)
    assert id_claims["org_id"] == account.orgs[org]

    header, at_claims = verify_jwt(tokens["access_token"], jwks, "Ed25519", iss=server.url,
                                   sub=account.user_id, client_id=client["client_id"])
    assert header["typ"] == "at+jwt"
    assert at_claims["jti"]
    assert at_claims["sid"] == id_claims["sid"]
    assert at_claims["org_id"] == account.orgs[org]
    assert set(at_claims["scope"].split()) == set(SCOPE.split())
    with requests.get(f"{server.url}/oauth/userinfo", timeout=10,
                      headers={"Authorization": f"Bearer {tokens['access_token']}"}) as response:
        assert response.status_code == 200, response.text
        assert response.json()["email"] == account.email


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
