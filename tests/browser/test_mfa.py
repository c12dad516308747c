"""Second factors in chromium over https: an authenticator app and a passkey set up
from the account page, each used to sign in, a recovery code, ``acr_values=2``.

Passkeys live in Chrome's virtual authenticator (DevTools Protocol ``WebAuthn``
domain, through Playwright's CDP session): the browser itself makes the
credentials and signs the assertions, with its real origin in the client data.
The authenticator app is ``pyotp``, with the real clock.
"""

from __future__ import annotations

import secrets
import ssl
import threading
import time
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import urlencode

import pyotp
import pytest
from playwright.sync_api import Browser, CDPSession, Page, expect

from tests.helpers import pkce_pair
from tests.live import LiveServer, live_server_fixture
from tests.tls import certificates

from .support import TIMEOUT_MS, Callback, redeem_at_callback

pytestmark = [pytest.mark.live, pytest.mark.browser]

PASSWORD = "two factor horse battery"
SCOPE = "openid profile"

server = live_server_fixture()


@pytest.fixture(scope="module")
def account(server: LiveServer) -> dict[str, Any]:
    return server.cli_json("users", "create", "mia", "--email", "mia@example.com",
                           "--password", PASSWORD, "--given-name", "Mia")


def virtual_authenticator(page: Page) -> tuple[CDPSession, str]:
    """A platform authenticator that verifies its user and keeps passkeys."""
    cdp = page.context.new_cdp_session(page)
    cdp.send("WebAuthn.enable", {"enableUI": False})
    added = cdp.send("WebAuthn.addVirtualAuthenticator", {"options": {
        "protocol": "ctap2", "ctap2Version": "ctap2_1", "transport": "internal",
        "hasResidentKey": True, "hasUserVerification": True, "isUserVerified": True,
        "automaticPresenceSimulation": True}})
    return cdp, added["authenticatorId"]


class Phone:
    """An authenticator app: codes for the current time step, each step used once."""

    def __init__(self, secret: str) -> None:
        self.totp = pyotp.TOTP(secret)
        self.last_step = int(time.time()) // 30 - 1

    def code(self) -> str:
        """A code the server has not seen: the current step's, or the next one's (the
        server allows one step of drift) if the current one was used."""
        step = max(int(time.time()) // 30, self.last_step + 1)
        self.last_step = step
        return self.totp.at(step * 30)


def sign_in_with_password(page: Page, url: str, username: str = "mia") -> None:
    page.fill("input[name=username]", username)
    page.fill("input[name=password]", PASSWORD)
    page.locator("form button[type=submit]").click()


def sign_out(page: Page, url: str) -> None:
    page.goto(f"{url}/logout")
    page.locator("form button[type=submit]").click()
    expect(page.locator("h1")).to_contain_text("signed out")


def authorize(page: Page, server: LiveServer, client: dict[str, str], callback: Callback,
              **extra: str) -> tuple[str, str]:
    verifier, challenge = pkce_pair()
    nonce = secrets.token_urlsafe(12)
    page.goto(f"{server.url}/oauth/authorize?" + urlencode({
        "response_type": "code", "client_id": client["client_id"], "redirect_uri": callback.url,
        "scope": SCOPE, "state": "s", "nonce": nonce, "code_challenge": challenge,
        "code_challenge_method": "S256", **extra}))
    return verifier, nonce


def test_enrol_an_app_and_a_passkey_and_sign_in_with_each(
        server: LiveServer, account: dict[str, Any], page: Page, callback: Callback) -> None:
    url = server.url
    cdp, authenticator = virtual_authenticator(page)
    client = server.cli_json("clients", "create", "--name", "Vault App", "--redirect-uri",
                             callback.url, "--scope", SCOPE, "--skip-consent")

    # Signed in with the password, the person sets up an authenticator app...
    page.goto(f"{url}/login")
    sign_in_with_password(page, url)
    page.wait_for_url(f"{url}/")
    page.goto(f"{url}/account")
    page.get_by_role("link", name="Manage second factors").click()
    page.wait_for_url(f"{url}/account/mfa")
    page.get_by_role("button", name="Set up an authenticator app").click()
    expect(page.locator(".qr svg")).to_be_visible()
    secret = page.locator("code.secret").inner_text().replace(" ", "")
    phone = Phone(secret)
    page.fill("input[name=code]", phone.code())
    page.get_by_role("button", name="Confirm").click()
    expect(page.locator("[role=status]")).to_contain_text("authenticator app is set up")
    codes = page.locator("ul.codes code").all_inner_texts()
    assert len(codes) == 10

    # ...and a passkey, named.
    page.fill("[data-passkey-name]", "Work laptop")
    page.get_by_role("button", name="Add a passkey").click()
    page.wait_for_url(f"{url}/account/mfa?done=passkey")
    expect(page.locator("[role=status]")).to_contain_text("passkey is registered")
    expect(page.locator("input[name=name]")).to_have_value("Work laptop")
    [credential] = cdp.send("WebAuthn.getCredentials",
                            {"authenticatorId": authenticator})["credentials"]
    assert credential["isResidentCredential"]
    assert credential["rpId"] == "localhost"
    sign_out(page, url)

    # An application asks for acr 2: password, then the passkey.
    verifier, nonce = authorize(page, server, client, callback, acr_values="2")
    page.wait_for_url(f"{url}/login?**")
    sign_in_with_password(page, url)
    page.wait_for_url(f"{url}/login/mfa?**")
    page.get_by_role("button", name="Use a passkey").click()
    claims, _ = redeem_at_callback(page, server, client, callback, verifier, nonce, 1)
    assert claims["acr"] == "2"
    assert claims["amr"] == ["pwd", "hwk", "mfa"]
    assert claims["sub"] == account["id"]
    sign_out(page, url)

    # The passkey alone.
    verifier, nonce = authorize(page, server, client, callback, acr_values="2")
    page.wait_for_url(f"{url}/login?**")
    page.get_by_role("button", name="Sign in with a passkey").click()
    claims, _ = redeem_at_callback(page, server, client, callback, verifier, nonce, 2)
    assert claims["acr"] == "2"
    assert claims["amr"] == ["hwk", "user", "mfa"]
    sign_out(page, url)

    # The password and the app's code.
    verifier, nonce = authorize(page, server, client, callback)
    page.wait_for_url(f"{url}/login?**")
    sign_in_with_password(page, url)
    page.wait_for_url(f"{url}/login/mfa?**")
    page.fill("input[name=code]", phone.code())
    page.get_by_role("button", name="Continue").click()
    claims, _ = redeem_at_callback(page, server, client, callback, verifier, nonce, 3)
    assert claims["acr"] == "2"
    assert claims["amr"] == ["pwd", "otp", "mfa"]
    sign_out(page, url)

    # The phone is lost: a recovery code, once.
    page.goto(f"{url}/login")
    sign_in_with_password(page, url)
    page.wait_for_url(f"{url}/login/mfa")
    page.fill("input[name=code]", codes[0])
    page.get_by_role("button", name="Continue").click()
    page.wait_for_url(f"{url}/")
    page.goto(f"{url}/account/mfa")
    expect(page.locator("body")).to_contain_text("9 of 10 left")
    sign_out(page, url)
    page.goto(f"{url}/login")
    sign_in_with_password(page, url)
    page.fill("input[name=code]", codes[0])
    page.get_by_role("button", name="Continue").click()
    expect(page.get_by_role("alert")).to_contain_text("not right")


@pytest.fixture
def other_origin() -> Iterator[str]:
    """A page on another origin of the same host (another port): it may use the relying
    party id ``localhost`` too, as a phishing page relaying to the real one would."""
    page = (b"<!doctype html><meta charset=utf-8><title>Look-alike</title>"
            b"<p>A page somewhere else.</p>")

    class Handler(BaseHTTPRequestHandler):
        def do_GET(self) -> None:
            self.send_response(200)
            self.send_header("Content-Type", "text/html; charset=utf-8")
            self.send_header("Content-Length", str(len(page)))
            self.end_headers()
            self.wfile.write(page)

        def log_message(self, format: str, *args: Any) -> None:
            pass

    httpd = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    certs = certificates()
    context.load_cert_chain(certs.cert_path, certs.key_path)
    httpd.socket = context.wrap_socket(httpd.socket, server_side=True)
    thread = threading.Thread(target=httpd.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"https://localhost:{httpd.server_address[1]}"
    finally:
        httpd.shutdown()
        httpd.server_close()
        thread.join(timeout=5)


GET_ASSERTION = """async (options) => {
  const publicKey = PublicKeyCredential.parseRequestOptionsFromJSON(options);
  const credential = await navigator.credentials.get({ publicKey });
  return credential.toJSON();
}"""

POST_JSON = """async ([url, body]) => {
  const csrf = document.querySelector('meta[name="csrf-token"]').content;
  const response = await fetch(url, { method: "POST", body: JSON.stringify(body),
    headers: { "Content-Type": "application/json", "Accept": "application/json",
               "X-CSRFToken": csrf } });
  return { status: response.status, body: await response.json() };
}"""


def test_an_assertion_made_on_another_origin_is_refused(
        server: LiveServer, browser: Browser, other_origin: str) -> None:
    url = server.url
    server.cli("users", "create", "noa", "--email", "noa@example.com", "--password", PASSWORD)
    context = browser.new_context()
    context.set_default_timeout(TIMEOUT_MS)
    page = context.new_page()
    try:
        virtual_authenticator(page)
        page.goto(f"{url}/login")
        sign_in_with_password(page, url, "noa")
        page.wait_for_url(f"{url}/")
        page.goto(f"{url}/account/mfa")
        page.get_by_role("button", name="Add a passkey").click()
        page.wait_for_url(f"{url}/account/mfa?done=passkey")
        sign_out(page, url)

        # The real sign-in page's challenge, signed on a look-alike origin...
        page.goto(f"{url}/login")
        options = page.evaluate(POST_JSON, [f"{url}/login/passkey?options", {}])["body"]
        page.goto(other_origin)
        assertion = page.evaluate(GET_ASSERTION, options)
        # ...and relayed to the real one: refused, for its origin.
        page.goto(f"{url}/login")
        answer = page.evaluate(POST_JSON, [f"{url}/login/passkey", {"credential": assertion}])
        assert answer["status"] == 400, answer
        assert answer["body"]["error"] == "invalid_request"
        assert "origin" in answer["body"]["error_description"].lower(), answer
        page.goto(f"{url}/account")
        page.wait_for_url(f"{url}/login?**")  # nobody signed in
    finally:
        context.close()


def test_without_javascript_the_sign_in_pages_still_work(
        server: LiveServer, browser: Browser) -> None:
    url = server.url
    server.cli("users", "create", "ola", "--email", "ola@example.com", "--password", PASSWORD)
    context = browser.new_context(java_script_enabled=False)
    context.set_default_timeout(TIMEOUT_MS)
    page = context.new_page()
    try:
        page.goto(f"{url}/login")
        expect(page.get_by_role("button", name="Sign in with a passkey")).to_be_hidden()
        sign_in_with_password(page, url, "ola")
        page.wait_for_url(f"{url}/")
        page.goto(f"{url}/account/mfa")
        page.get_by_role("button", name="Set up an authenticator app").click()
        secret = page.locator("code.secret").inner_text().replace(" ", "")
        page.fill("input[name=code]", Phone(secret).code())
        page.get_by_role("button", name="Confirm").click()
        expect(page.locator("[role=status]")).to_contain_text("authenticator app is set up")
        expect(page.get_by_role("button", name="Add a passkey")).to_be_hidden()
    finally:
        context.close()
