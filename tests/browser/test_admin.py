"""An administrator's day in chromium over https: sign in to ``/admin``, create a
user and a client, rotate the client's secret, disable the user, and find each
change in the audit log under the administrator's name.

Every step goes through the pages' own forms; the client's secrets are checked
against the live token endpoint, and the disabled user really cannot sign in.
"""

from __future__ import annotations

from typing import Any

import pytest
import requests
from playwright.sync_api import Page, expect

from tests.live import LiveServer, live_server_fixture

pytestmark = [pytest.mark.live, pytest.mark.browser]

PASSWORD = "an administrator's long password"

server = live_server_fixture()


@pytest.fixture(scope="module")
def admin(server: LiveServer) -> dict[str, Any]:
    return server.cli_json("users", "create", "ada", "--email", "ada@example.com",
                           "--password", PASSWORD, "--admin")


def client_credentials(url: str, client_id: str, secret: str) -> int:
    with requests.post(f"{url}/oauth/token", data={"grant_type": "client_credentials"},
                       auth=(client_id, secret), timeout=10) as answer:
        return answer.status_code


def nav(page: Page, name: str) -> None:
    page.get_by_role("navigation", name="Administration").get_by_role(
        "link", name=name, exact=True).click()


def test_an_administrators_day(server: LiveServer, admin: dict[str, Any], page: Page,
                               browser) -> None:
    page.goto(f"{server.url}/admin")
    page.fill("input[name=username]", "ada")
    page.fill("input[name=password]", PASSWORD)
    page.locator("form button[type=submit]").first.click()
    expect(page.locator("h1")).to_have_text("Overview")
    expect(page.locator("svg[role=img]")).to_be_visible()

    # A user.
    nav(page, "Users")
    page.get_by_role("link", name="New user").click()
    page.get_by_label("Username", exact=True).fill("bea")
    page.get_by_label("Email", exact=True).fill("bea@example.com")
    page.get_by_label("Password", exact=True).fill("bea's first password")
    page.get_by_role("button", name="Create user").click()
    expect(page.get_by_role("status")).to_have_text("The user was created.")
    user_url = page.url.split("?")[0]

    # A client, its secret shown once, then rotated.
    nav(page, "Clients")
    page.get_by_role("link", name="New client").click()
    page.get_by_label("Name", exact=True).fill("Reports robot")
    page.get_by_label("Client id", exact=True).fill("reports")
    page.get_by_label("authorization_code").uncheck()
    page.get_by_label("refresh_token").uncheck()
    page.get_by_label("client_credentials").check()
    page.get_by_role("button", name="Create client").click()
    first = page.locator("#client-secret").inner_text()
    assert client_credentials(server.url, "reports", first) == 200
    page.get_by_role("button", name="Rotate secret").click()
    second = page.locator("#client-secret").inner_text()
    assert second != first
    assert client_credentials(server.url, "reports", first) == 401
    assert client_credentials(server.url, "reports", second) == 200

    # The user, disabled: they cannot sign in any more.
    page.goto(user_url)
    page.get_by_role("button", name="Disable").click()
    expect(page.get_by_role("status")).to_contain_text("Disabled")
    other = browser.new_context()
    try:
        theirs = other.new_page()
        theirs.goto(f"{server.url}/login")
        theirs.fill("input[name=username]", "bea")
        theirs.fill("input[name=password]", "bea's first password")
        theirs.locator("form button[type=submit]").first.click()
        expect(theirs.get_by_role("alert")).to_contain_text("Wrong username or password")
    finally:
        other.close()

    # Each change in the audit log, by ada.
    nav(page, "Audit log")
    for tag in ("user.created", "client.created", "client.secret_rotated", "user.disabled"):
        page.get_by_label("Event").fill(tag)
        page.get_by_role("button", name="Filter").click()
        row = page.locator("tbody tr").first
        expect(row).to_contain_text(tag)
        expect(row).to_contain_text(f"actor={admin['id']}")
