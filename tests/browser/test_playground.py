"""The playground in chromium over https, as a newcomer uses it: the code flow
(query and form_post), refresh and what reuse does, client_credentials, token
exchange, and a tampered token.

What the page shows is checked against what the test works out itself: each
token is read from the page (secrets revealed), verified here against the
published keys, and its claims compared with the rows the page shows.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest
import requests
from playwright.sync_api import Page, expect

from tests.helpers import verify_jwt
from tests.live import LiveServer, live_server

pytestmark = [pytest.mark.live, pytest.mark.browser]

PASSWORD = "alice-demo-password"  # the demo data's


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[LiveServer]:
    with live_server(tmp_path_factory.mktemp("live"), lambda s: s.cli("init", "--demo"),
                     PLAYGROUND="on") as running:
        yield running


@pytest.fixture(scope="module")
def jwks(server: LiveServer) -> dict[str, Any]:
    with requests.get(f"{server.url}/.well-known/jwks.json", timeout=10) as got:
        return got.json()


def run_code_flow(page: Page, server: LiveServer, response_mode: str) -> None:
    page.goto(f"{server.url}/playground?flow=code")
    page.locator("#p-scope").fill("openid profile email offline_access org")
    page.get_by_label("response_mode").select_option(response_mode)
    page.get_by_role("button", name="Run Authorization code + PKCE").click()
    expect(page.get_by_role("heading", name="1. Send the browser to the authorization "
                                             "endpoint")).to_be_visible()
    page.get_by_role("link", name="Open the authorization page").click()
    if page.locator("input[name=password]").count():
        page.fill("input[name=username]", "alice")
        page.fill("input[name=password]", PASSWORD)
        page.locator("form button[type=submit]").first.click()
    if page.get_by_role("button", name="Acme Corporation").count():
        page.get_by_role("button", name="Acme Corporation").click()
    if page.get_by_role("button", name="Allow").count():
        page.get_by_role("button", name="Allow").click()
    expect(page.get_by_role("heading", name="2. The browser comes back to the redirect "
                                             "URI").last).to_be_visible()
    page.get_by_role("button", name="Redeem the code").click()
    expect(page.get_by_role("heading", name="3. Redeem the code at the token endpoint")
           .last).to_be_visible()


def shown_token(page: Page, label: str) -> str:
    """The token as the page shows it with secrets revealed."""
    page.goto(page.url.split("#")[0] + "&reveal=1")
    return page.locator(f"article[data-token='{label}'] pre.raw").first.text_content().strip()


def shown_claim(page: Page, label: str, claim: str) -> str:
    return page.locator(f"article[data-token='{label}'] tr[data-claim='{claim}'] td code") \
        .first.inner_text()


def test_code_flow_tokens_are_decoded_and_verified(server, jwks, page: Page) -> None:
    run_code_flow(page, server, "query")
    for label in ("id_token", "access_token"):
        expect(page.locator(f"article[data-token='{label}'] [data-verdict]")) \
            .to_contain_text("Signature valid")
    id_token = shown_token(page, "id_token")
    _, claims = verify_jwt(id_token, jwks, ["RS256"], aud="playground", iss=server.url)
    assert shown_claim(page, "id_token", "sub") == f'"{claims["sub"]}"'
    assert shown_claim(page, "id_token", "nonce") == f'"{claims["nonce"]}"'
    access = shown_token(page, "access_token")
    _, access_claims = verify_jwt(access, jwks, ["Ed25519", "EdDSA", "RS256", "ES256"],
                                  client_id="playground")
    assert shown_claim(page, "access_token", "sub") == f'"{access_claims["sub"]}"'
    expect(page.locator("article[data-token='access_token'] tr[data-claim='exp']")) \
        .to_contain_text("UTC")

    # Token exchange (Webex's client_delegate), while the grant is alive.
    page.get_by_role("button", name="Exchange the access token").click()
    expect(page.locator("article[data-token='exchanged_token'] [data-verdict]")) \
        .to_contain_text("Signature valid")
    expect(page.locator("article[data-token='exchanged_token'] tr[data-claim='act']")) \
        .to_contain_text("playground")

    # Refresh: rotation, then the replaced token presented again.
    before = shown_token(page, "refresh_token")
    page.get_by_role("button", name="Refresh").click()
    after = shown_token(page, "refresh_token")
    assert after != before
    page.get_by_role("button", name="Reuse the replaced refresh token").click()
    expect(page.locator("[data-explanation]").last).to_contain_text("invalid_grant")

    # Secrets stay hidden unless revealed; the shared link holds none.
    page.goto(page.url.split("&reveal=1")[0])
    assert "[hidden]" in page.locator("pre.request").last.inner_text()
    assert after not in page.content()
    share = page.locator("a[data-share]").get_attribute("href") or ""
    assert "scope=" in share
    assert "token" not in share.split("?", 1)[1]


def test_form_post_client_credentials_and_a_tampered_token(server, jwks, page: Page) -> None:
    run_code_flow(page, server, "form_post")
    expect(page.locator("article[data-token='id_token'] [data-verdict]")) \
        .to_contain_text("Signature valid")
    id_token = shown_token(page, "id_token")
    verify_jwt(id_token, jwks, ["RS256"], aud="playground")

    page.goto(f"{server.url}/playground?flow=client_credentials")
    page.locator("#p-scope").fill("")
    page.get_by_role("button", name="Run Client credentials").click()
    token = shown_token(page, "access_token")
    _, claims = verify_jwt(token, jwks, ["Ed25519", "EdDSA", "RS256", "ES256"],
                           client_id="playground")
    assert shown_claim(page, "access_token", "client_id") == '"playground"'
    assert claims["sub"] == "playground"

    head, body, signature = id_token.split(".")
    tampered = ".".join((head, body, ("A" if signature[0] != "A" else "B") + signature[1:]))
    page.get_by_label("A JWT").fill(tampered)
    page.get_by_role("button", name="Decode and verify").click()
    expect(page.locator("article[data-token='pasted token'] [data-verdict]")) \
        .to_contain_text("Signature invalid")
