"""Over https, as in production: the IdP terminating TLS itself, and behind nginx.

Chromium goes the whole way a person goes (sign in, choose an organization,
consent, the account page, RP-initiated logout, the sign-out page) against each
set-up. The proxied one is the README's nginx example with ``IDP_PROXY_COUNT=1``;
the direct one has no proxy and ``IDP_PROXY_COUNT=0``, so forwarded headers
sent to it must change nothing.
"""

from __future__ import annotations

import secrets
from collections.abc import Iterator
from dataclasses import dataclass
from urllib.parse import parse_qs, urlencode

import pytest
import requests
from playwright.sync_api import Page, expect
from requests.adapters import HTTPAdapter

from tests.helpers import pkce_pair
from tests.live import LiveServer, free_port, live_server, verify_jwt
from tests.proxy import nginx, nginx_binary

from .support import FOREIGN_HOST, Callback

pytestmark = [pytest.mark.live, pytest.mark.browser]

PASSWORD = "https horse battery staple"
SCOPE = "openid profile email org"
LOGIN_LIMIT = 3  # failed sign-ins a minute per address


@dataclass
class Setup:
    server: LiveServer
    user_id: str
    proxied: bool


def _prepare(server: LiveServer) -> None:
    server.cli("users", "create", "hana", "--email", "hana@example.com", "--password",
               PASSWORD, "--given-name", "Hana", "--email-verified")
    for slug, name in (("east", "East Ltd"), ("west", "West GmbH")):
        server.cli("orgs", "create", slug, "--name", name)
        server.cli("orgs", "add-member", slug, "hana")


def _user_id(server: LiveServer) -> str:
    return server.cli_json("users", "create", "probe", "--email", "probe@example.com")["id"]


@pytest.fixture(scope="module")
def direct(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Setup]:
    """The IdP serving TLS itself, trusting no forwarded header."""
    with live_server(tmp_path_factory.mktemp("direct"), _prepare, PROXY_COUNT="0",
                     RATE_LIMIT_LOGIN_IP=f"{LOGIN_LIMIT}/minute") as server:
        yield Setup(server, _user_id(server), proxied=False)


@pytest.fixture(scope="module")
def proxied(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Setup]:
    """The IdP serving plain http on loopback behind nginx, which terminates TLS."""
    if nginx_binary() is None:
        pytest.fail("nginx is not installed: make test-deps installs Debian's nginx-light")
    tmp = tmp_path_factory.mktemp("proxied")
    backend = free_port()
    with nginx(tmp / "nginx", backend) as public, \
            live_server(tmp, _prepare, tls=False, issuer=public, port=backend,
                        PROXY_COUNT="1", RATE_LIMIT_LOGIN_IP=f"{LOGIN_LIMIT}/minute") as server:
        yield Setup(server, _user_id(server), proxied=True)


@pytest.fixture(params=["direct", "proxied"])
def setup(request: pytest.FixtureRequest) -> Setup:
    return request.getfixturevalue(request.param)


class FromAddress(HTTPAdapter):
    """Connect from a chosen loopback address (all of 127/8 is this machine)."""

    def __init__(self, address: str) -> None:
        self.address = address
        super().__init__()

    def init_poolmanager(self, *args, **kwargs) -> None:
        kwargs["source_address"] = (self.address, 0)
        super().init_poolmanager(*args, **kwargs)


def session_from(address: str) -> requests.Session:
    http = requests.Session()
    http.mount("https://", FromAddress(address))
    return http


def failed_login(http: requests.Session, url: str, **headers: str) -> int:
    with http.get(f"{url}/login", timeout=10) as page:
        token = page.text.split('name="csrf_token" type="hidden" value="')[1].split('"')[0]
    with http.post(f"{url}/login", data={"csrf_token": token, "username": "hana",
                                         "password": "wrong password"},
                   headers={"Origin": url, **headers}, allow_redirects=False,
                   timeout=10) as response:
        return response.status_code


# -- a person's whole visit, in chromium --------------------------------------------------


def test_sign_in_account_and_both_logouts_in_chromium(setup: Setup, page: Page,
                                                      callback: Callback) -> None:
    server = setup.server
    url = server.url
    assert url.startswith("https://")
    client = server.cli_json("clients", "create", "--name", "Harbour App", "--redirect-uri",
                             callback.url, "--post-logout-redirect-uri",
                             callback.base + "/signed-out", "--scope", SCOPE)
    verifier, challenge = pkce_pair()
    nonce = secrets.token_urlsafe(12)
    page.goto(f"{url}/oauth/authorize?" + urlencode({
        "response_type": "code", "client_id": client["client_id"], "redirect_uri": callback.url,
        "scope": SCOPE, "state": "s1", "nonce": nonce, "code_challenge": challenge,
        "code_challenge_method": "S256"}))

    page.wait_for_url(f"{url}/login?**")
    page.fill("input[name=username]", "hana")
    page.fill("input[name=password]", PASSWORD)
    page.locator("form button[type=submit]").click()
    page.wait_for_url(f"{url}/select-org?**")
    page.locator("button[name=org][value=west]").click()
    page.wait_for_url(f"{url}/consent?**")
    expect(page.locator("h1")).to_contain_text("Harbour App")
    page.locator("button[name=decision][value=allow]").click()
    page.wait_for_url(f"{callback.url}?**")

    [received] = callback.wait(1)
    params = parse_qs(received.query)
    assert params["iss"] == [url]
    assert params["state"] == ["s1"]
    with requests.post(f"{url}/oauth/token", auth=(client["client_id"], client["client_secret"]),
                       data={"grant_type": "authorization_code", "code": params["code"][0],
                             "redirect_uri": callback.url, "code_verifier": verifier},
                       timeout=10) as response:
        assert response.status_code == 200, response.text
        tokens = response.json()
    jwks = server.jwks()
    _, id_claims = verify_jwt(tokens["id_token"], jwks, "RS256", iss=url,
                              aud=client["client_id"], nonce=nonce)
    verify_jwt(tokens["access_token"], jwks, "Ed25519", iss=url, sub=id_claims["sub"])

    # The account page: its forms work over https too.
    page.goto(f"{url}/account")
    expect(page.locator("h1")).to_contain_text("Hana")
    page.locator("li", has_text="Harbour App").locator("button").click()
    expect(page.locator("[role=status]")).to_contain_text("withdrawn")

    # RP-initiated logout without a hint: the person confirms, then lands at the client.
    page.goto(f"{url}/oauth/logout?" + urlencode({
        "client_id": client["client_id"], "state": "bye",
        "post_logout_redirect_uri": callback.base + "/signed-out"}))
    page.locator("form button[type=submit]").click()
    page.wait_for_url(f"{callback.base}/signed-out?**")
    assert parse_qs(callback.wait(2)[-1].query) == {"state": ["bye"]}
    page.goto(f"{url}/account")
    page.wait_for_url(f"{url}/login?**")  # signed out for real

    # The sign-out page.
    page.fill("input[name=username]", "hana")
    page.fill("input[name=password]", PASSWORD)
    page.locator("form button[type=submit]").click()
    page.wait_for_url(f"{url}/account")
    page.goto(f"{url}/logout")
    page.locator("form button[type=submit]").click()
    expect(page.locator("h1")).to_contain_text("signed out")
    page.goto(f"{url}/account")
    page.wait_for_url(f"{url}/login?**")


# -- what the proxy must carry through, and what nobody may forge -------------------------


def test_discovery_lists_only_the_https_issuer(setup: Setup) -> None:
    document = setup.server.discovery()
    url = setup.server.url
    assert document["issuer"] == url
    endpoints = {k: v for k, v in document.items() if k.endswith(("_endpoint", "_uri"))}
    assert len(endpoints) >= 7, endpoints
    for name, value in endpoints.items():
        assert value.startswith(url + "/"), (name, value)


def test_cookies_are_secure_host_cookies_and_hsts_is_sent(setup: Setup) -> None:
    with requests.get(f"{setup.server.url}/login", timeout=10) as response:
        assert response.status_code == 200
        cookie = response.headers["Set-Cookie"]
        assert response.headers["Strict-Transport-Security"].startswith("max-age=")
        assert response.headers["Referrer-Policy"] == "same-origin"
    assert cookie.startswith("__Host-idp_session="), cookie
    attributes = {part.strip().split("=")[0].lower() for part in cookie.split(";")[1:]}
    assert {"secure", "httponly", "path", "samesite"} <= attributes, cookie
    assert "domain" not in attributes, cookie


def test_the_rate_limit_counts_the_client_not_the_proxy(proxied: Setup) -> None:
    url = proxied.server.url
    with session_from("127.0.0.2") as guesser, session_from("127.0.0.3") as bystander:
        assert [failed_login(guesser, url) for _ in range(LOGIN_LIMIT)] == [401] * LOGIN_LIMIT
        assert failed_login(guesser, url) == 429
        # Behind the same proxy, another address is counted on its own.
        assert failed_login(bystander, url) == 401


def test_forwarded_headers_are_ignored_without_a_proxy(direct: Setup) -> None:
    url = direct.server.url
    with session_from("127.0.0.4") as guesser:
        statuses = [failed_login(guesser, url, **{"X-Forwarded-For": f"10.0.0.{n}"})
                    for n in range(LOGIN_LIMIT + 1)]
    # A new forged address each time changes nothing: the connection's address counts.
    assert statuses == [401] * LOGIN_LIMIT + [429]
    with requests.get(f"{url}/.well-known/openid-configuration", timeout=10, headers={
            "X-Forwarded-Host": "evil.example", "X-Forwarded-Proto": "http"}) as response:
        assert response.status_code == 200  # a believed X-Forwarded-Host would be 403
        assert response.json()["issuer"] == url


def test_a_foreign_host_gets_a_page_in_a_browser_and_json_otherwise(direct: Setup,
                                                                    page: Page) -> None:
    url = direct.server.url
    with requests.get(f"{url}/login", timeout=10, headers={"Host": FOREIGN_HOST}) as response:
        assert response.status_code == 403
        assert response.json()["error"] == "access_denied"
    foreign = url.replace("localhost", FOREIGN_HOST)
    response = page.goto(f"{foreign}/login")
    assert response is not None
    assert response.status == 403
    expect(page.locator("h1")).to_contain_text("Not allowed")
    expect(page.locator("main")).to_contain_text(url)  # where to go instead
