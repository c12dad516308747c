"""Signing in through upstream providers in chromium, over https, against real ones:
node-oidc-provider, and a second instance of this IdP.

The second instance answers at ``https://127.0.0.1:…`` so that the browser keeps
its cookies apart from the first's (cookies are per host, not per port).
"""

from __future__ import annotations

import secrets
from collections.abc import Iterator
from typing import Any
from urllib.parse import urlencode

import pytest
import requests
from playwright.sync_api import Page, expect

from tests.helpers import pkce_pair
from tests.live import LiveServer, free_port, live_server, live_server_fixture
from tests.upstream_provider import NodeProvider, node_provider

from .support import Callback, redeem_at_callback

pytestmark = [pytest.mark.live, pytest.mark.browser]

SECRET = "upstream-client-secret-0123456789abcdef"
PASSWORD = "partner horse battery staple"
SCOPE = "openid profile email"

server = live_server_fixture()


@pytest.fixture(scope="module")
def node(server: LiveServer, tmp_path_factory: pytest.TempPathFactory) -> Iterator[NodeProvider]:
    clients = [{"client_id": "our-idp", "client_secret": SECRET,
                "redirect_uris": [f"{server.url}/upstream/company/callback"],
                "grant_types": ["authorization_code"], "response_types": ["code"]}]
    accounts = {"gina": {"email": "gina@example.com", "email_verified": True,
                         "name": "Gina Gold", "given_name": "Gina", "family_name": "Gold"}}
    with node_provider(tmp_path_factory.mktemp("node"), clients, accounts) as provider:
        server.cli("upstreams", "create", "company", "--name", "Company SSO", "--issuer",
                   provider.issuer, "--client-id", "our-idp", "--client-secret", SECRET,
                   "--create-users")
        yield provider


@pytest.fixture(scope="module")
def partner(server: LiveServer, tmp_path_factory: pytest.TempPathFactory,
            ) -> Iterator[LiveServer]:
    """Another instance of this IdP, with its own user, as an upstream of the first."""
    port = free_port()

    def prepare(upstream: LiveServer) -> None:
        upstream.cli("users", "create", "hana", "--email", "hana@example.com", "--password",
                     PASSWORD, "--given-name", "Hana", "--email-verified")
        upstream.cli("clients", "create", "--name", "Our IdP", "--client-id", "our-idp",
                     "--client-secret", SECRET, "--redirect-uri",
                     f"{server.url}/upstream/partner/callback", "--scope", SCOPE)

    with live_server(tmp_path_factory.mktemp("partner"), prepare, port=port,
                     issuer=f"https://127.0.0.1:{port}") as upstream:
        server.cli("upstreams", "create", "partner", "--name", "Partner IdP", "--issuer",
                   upstream.url, "--client-id", "our-idp", "--client-secret", SECRET,
                   "--link-by-verified-email")
        yield upstream


def client_of(server: LiveServer, callback: Callback) -> dict[str, str]:
    return server.cli_json("clients", "create", "--name", "Team Wiki", "--redirect-uri",
                           callback.url, "--scope", SCOPE, "--skip-consent")


def authorize(page: Page, server: LiveServer, client: dict[str, str], callback: Callback,
              **extra: str) -> tuple[str, str]:
    verifier, challenge = pkce_pair()
    nonce = secrets.token_urlsafe(12)
    page.goto(f"{server.url}/oauth/authorize?" + urlencode({
        "response_type": "code", "client_id": client["client_id"], "redirect_uri": callback.url,
        "scope": SCOPE, "state": "s", "nonce": nonce, "code_challenge": challenge,
        "code_challenge_method": "S256", **extra}))
    return verifier, nonce


def tokens_at(server: LiveServer, client: dict[str, str], callback: Callback, verifier: str,
              nonce: str, page: Page) -> dict[str, Any]:
    """The verified ID token's claims, and what UserInfo says (``userinfo``)."""
    claims, access_token = redeem_at_callback(page, server, client, callback, verifier, nonce)
    with requests.get(f"{server.url}/oauth/userinfo", timeout=10,
                      headers={"Authorization": f"Bearer {access_token}"}) as response:
        assert response.status_code == 200, response.text
        claims["userinfo"] = response.json()
    return claims


def test_oidc_id_signs_in_through_node_oidc_provider(server: LiveServer, node: NodeProvider,
                                                     page: Page, callback: Callback) -> None:
    client = client_of(server, callback)
    verifier, nonce = authorize(page, server, client, callback, oidc_id="company")
    page.wait_for_url(f"{node.issuer}/interaction/**")
    page.fill("input[name=login]", "gina")
    page.fill("input[name=password]", "anything")
    page.locator("button[type=submit]").click()
    page.wait_for_url(f"{node.issuer}/interaction/**")  # its consent page
    page.locator("button[type=submit]").click()
    claims = tokens_at(server, client, callback, verifier, nonce, page)
    assert claims["amr"] == ["fed"]
    assert claims["userinfo"]["email"] == "gina@example.com"
    assert claims["userinfo"]["email_verified"] is True
    # The new account's page knows where it came from.
    page.goto(f"{server.url}/account")
    expect(page.locator("body")).to_contain_text("Company SSO")
    expect(page.locator("body")).to_contain_text("You have no password here")


def test_the_login_page_button_through_another_instance_of_this_idp(
        server: LiveServer, partner: LiveServer, page: Page, callback: Callback) -> None:
    existing = server.cli_json("users", "create", "hana-here", "--email", "hana@example.com",
                               "--password", "a different password 123")
    client = client_of(server, callback)
    verifier, nonce = authorize(page, server, client, callback)
    page.wait_for_url(f"{server.url}/login?**")
    page.get_by_role("button", name="Sign in with Partner IdP").click()
    page.wait_for_url(f"{partner.url}/login?**")
    expect(page.locator("h1")).to_contain_text("Our IdP")
    page.fill("input[name=username]", "hana")
    page.fill("input[name=password]", PASSWORD)
    page.locator("form button[type=submit]").last.click()
    page.wait_for_url(f"{partner.url}/consent?**")  # the partner asks hana about us
    page.locator("button[name=decision][value=allow]").click()
    claims = tokens_at(server, client, callback, verifier, nonce, page)
    assert claims["sub"] == existing["id"]  # linked by the verified email
    assert claims["amr"] == ["pwd"]  # the partner's own amr, passed on
    page.goto(f"{server.url}/account")
    expect(page.locator("body")).to_contain_text("Partner IdP")


def test_a_refusal_at_the_upstream_is_a_page_in_plain_words(
        server: LiveServer, node: NodeProvider, page: Page, callback: Callback) -> None:
    client = client_of(server, callback)
    authorize(page, server, client, callback, oidc_id="company")
    page.wait_for_url(f"{node.issuer}/interaction/**")
    page.fill("input[name=login]", "gina")
    page.fill("input[name=password]", "anything")
    page.locator("button[type=submit]").click()
    page.wait_for_url(f"{node.issuer}/interaction/**")
    page.get_by_role("link", name="Cancel").click()
    page.wait_for_url(f"{server.url}/upstream/company/callback?**")
    expect(page.locator("main")).to_contain_text("did not sign you in")
    assert "Traceback" not in server.log()
