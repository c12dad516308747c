"""Every page, as people meet it: in their language, under the team's brand, accessible.

Chromium over https, with its language set as a person's browser sets it
(``Accept-Language``), or ``ui_locales`` on the authorization request. Mail goes
through a real SMTP server (aiosmtpd) and the tests follow its links in the
browser. axe-core (from npm) runs on every page and fails the test on any serious
or critical violation. The expected words come from the compiled catalogues,
so a missing translation shows as English where another language is due.
"""

from __future__ import annotations

import secrets
from collections.abc import Iterator
from pathlib import Path
from urllib.parse import urlencode

import pytest
import requests
from babel.support import Translations
from playwright.sync_api import Browser, BrowserContext, Page, expect

from tests.helpers import pkce_pair
from tests.live import LiveServer, live_server, verify_jwt
from tests.mailbox import Inbox, link_in, smtp_inbox

from .support import TIMEOUT_MS, Callback, redeem_at_callback

pytestmark = [pytest.mark.live, pytest.mark.browser]

ROOT = Path(__file__).resolve().parents[2]
AXE = ROOT / "tests" / "upstream" / "node_modules" / "axe-core" / "axe.min.js"
BRAND = "Northwind Sign-in"
PASSWORD = "pages horse battery staple"
NEW_PASSWORD = "pages new horse battery"
SCOPE = "openid profile email org"


def words(language: str):
    """``gettext`` of the compiled catalogue for ``language``."""
    return Translations.load(str(ROOT / "idp" / "translations"), [language]).gettext


@pytest.fixture(scope="module")
def inbox() -> Iterator[Inbox]:
    with smtp_inbox() as mailbox:
        yield mailbox


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory, inbox: Inbox) -> Iterator[LiveServer]:
    with live_server(tmp_path_factory.mktemp("pages"), SMTP_URL=inbox.url, SIGNUP="open",
                     BRAND_NAME=BRAND, BRAND_COLOR="#0b6e4f", PLAYGROUND="on") as server:
        for slug, name in (("north", "North Ltd"), ("south", "South GmbH")):
            server.cli("orgs", "create", slug, "--name", name)
        yield server


def make_person(server: LiveServer, username: str, *, admin: bool = False) -> str:
    email = f"{username}@example.com"
    server.cli_json("users", "create", username, "--email", email, "--password", PASSWORD,
                    "--given-name", username.title(), *(["--admin"] if admin else []))
    for slug in ("north", "south"):
        server.cli("orgs", "add-member", slug, username)
    return email


def context_in(browser: Browser, locale: str) -> BrowserContext:
    context = browser.new_context(locale=locale)
    context.set_default_timeout(TIMEOUT_MS)
    return context


def log_in(page: Page, username: str, password: str) -> None:
    """Fill in the login page and press its button."""
    page.fill("input[name=username]", username)
    page.fill("input[name=password]", password)
    page.locator("form button[type=submit].primary").click()


def choose_account(page: Page, username: str) -> None:
    """Fill in a new account's username and password (twice) and press its button."""
    page.fill("input[name=username]", username)
    page.fill("input[name=password]", PASSWORD)
    page.fill("input[name=password2]", PASSWORD)
    page.locator("form button[type=submit]").click()


# -- what every page must be --------------------------------------------------------------


def check(page: Page, language: str, what: str) -> None:
    """The page is in ``language``, carries the brand, and axe finds nothing serious."""
    assert page.locator("html").get_attribute("lang") == language, what
    assert page.title().endswith(BRAND), (what, page.title())
    expect(page.locator("header.brand")).to_contain_text(BRAND)
    if not page.evaluate("() => typeof window.axe === 'object'"):
        page.evaluate(AXE.read_text())
    violations = page.evaluate("""async () => {
        const result = await axe.run(document, {resultTypes: ["violations"]});
        return result.violations.map(v => ({id: v.id, impact: v.impact, help: v.help,
            nodes: v.nodes.slice(0, 3).map(n => n.target.join(" "))}));
    }""")
    serious = [v for v in violations if v["impact"] in ("serious", "critical")]
    assert not serious, (what, page.url, serious)


def in_language(page: Page, language: str, message: str) -> None:
    """The page shows ``message`` as the catalogue says it in ``language``."""
    expected = words(language)(message)
    if language != "en":
        assert expected != message, f"{language} has no translation of {message!r}"
    prefix = expected.split("%(")[0].strip()
    assert prefix, f"{message!r} starts with a placeholder: compare it whole"
    expect(page.locator("body")).to_contain_text(prefix)


# -- a day of pages, in two languages ------------------------------------------------------


@pytest.mark.parametrize(("locale", "language"), [("en-GB", "en"), ("de-DE", "de")])
def test_every_page_in_the_browsers_language_passes_axe(
        browser: Browser, server: LiveServer, inbox: Inbox, callback: Callback,
        locale: str, language: str):
    t = words(language)
    username = f"walker{language}"
    email = make_person(server, username, admin=True)
    client = server.cli_json("clients", "create", "--name", f"Ledger {language}",
                             "--redirect-uri", callback.url, "--scope", SCOPE)
    context = context_in(browser, locale)
    page = context.new_page()
    try:
        # The login page, then a wrong password: the error is next to the form.
        page.goto(f"{server.url}/login")
        in_language(page, language, "Forgot password?")
        check(page, language, "login")
        log_in(page, username, "not the password")
        in_language(page, language, "Wrong username or password.")
        check(page, language, "login error")
        page.fill("input[name=password]", "")
        page.locator("form button[type=submit].primary").click()
        assert page.locator("#password").get_attribute("aria-invalid") == "true"
        assert page.locator("#password").get_attribute("aria-describedby") == "password-error"
        check(page, language, "login with an empty field")

        # Forgot password: the mail is in the browser's language; its link works.
        page.get_by_role("link", name=t("Forgot password?")).click()
        check(page, language, "forgot")
        page.fill("input[name=email]", email)
        page.locator("form button[type=submit]").click()
        in_language(page, language, "Check your mail")
        check(page, language, "forgot sent")
        mail = inbox.wait_for(email)
        assert mail["Subject"] == t("Reset your password")
        assert BRAND in mail.get_body(("plain",)).get_content()
        page.goto(link_in(mail, "/password/reset/"))
        in_language(page, language, "Choose a new password")
        check(page, language, "reset")
        page.fill("input[name=password]", NEW_PASSWORD)
        page.fill("input[name=password2]", "something else entirely")
        page.locator("form button[type=submit]").click()
        in_language(page, language, "The passwords do not match.")
        assert page.locator("#password2").get_attribute("aria-invalid") == "true"
        check(page, language, "reset mismatch")
        page.fill("input[name=password]", NEW_PASSWORD)
        page.fill("input[name=password2]", NEW_PASSWORD)
        page.locator("form button[type=submit]").click()
        page.wait_for_url(f"{server.url}/login?**")
        in_language(page, language, "Your password was changed. Sign in with the new one.")
        check(page, language, "login after reset")
        log_in(page, username, NEW_PASSWORD)
        page.wait_for_url(f"{server.url}/")

        for path, heading in (("/account", "Signed-in sessions"),
                              ("/account/mfa", "Authenticator app")):
            page.goto(server.url + path)
            in_language(page, language, heading)
            check(page, language, path)
        expect(page.locator("body")).not_to_contain_text("Mozilla/5.0")

        # An application asks: the organization page, then consent.
        verifier, challenge = pkce_pair()
        state = secrets.token_urlsafe(8)
        page.goto(f"{server.url}/oauth/authorize?" + urlencode({
            "response_type": "code", "client_id": client["client_id"],
            "redirect_uri": callback.url, "scope": SCOPE, "state": state,
            "code_challenge": challenge, "code_challenge_method": "S256",
            "nonce": state, "prompt": "select_account"}))
        page.wait_for_url(f"{server.url}/select-org?**")
        in_language(page, language, "Choose an organization")
        check(page, language, "select org")
        page.locator("button[name=org][value=north]").click()
        page.wait_for_url(f"{server.url}/consent?**")
        expect(page.locator("[data-org-explained]")).to_contain_text("North Ltd")
        check(page, language, "consent")
        page.locator("button[name=decision][value=allow]").click()
        claims, access = redeem_at_callback(page, server, client, callback, verifier, state)
        _header, granted = verify_jwt(access, server.jwks(), "Ed25519", sub=claims["sub"])
        assert granted["org_id"] == server.cli_json("orgs", "show", "north")["id"]

        # The console and the playground.
        for path in ("/admin", "/admin/users", "/admin/clients",
                     f"/admin/clients/{client['client_id']}", "/admin/orgs", "/admin/orgs/north",
                     "/admin/apis", "/admin/upstreams", "/admin/keys", "/admin/audit",
                     "/admin/users/new", "/playground"):
            response = page.goto(server.url + path)
            assert response is not None
            assert response.status == 200, path
            check(page, language, path)

        # Error pages: plain words and a way back.
        response = page.goto(f"{server.url}/no/such/page")
        assert response is not None
        assert response.status == 404
        in_language(page, language, "Page not found")
        expect(page.get_by_role("link", name=t("Back to sign in"))).to_be_visible()
        check(page, language, "404")
        page.goto(f"{server.url}/consent?interaction=gone")
        in_language(page, language, "This sign-in request is not known in this browser. "
                    "Go back to the application and start again.")
        check(page, language, "a stale interaction")

        page.goto(f"{server.url}/logout")
        check(page, language, "logout")
        page.locator("form button[type=submit]").click()
        in_language(page, language, "You are signed out")
        check(page, language, "logged out")

        page.goto(f"{server.url}/signup")
        in_language(page, language, "Create an account")
        check(page, language, "signup")
    finally:
        context.close()


def test_ui_locales_outranks_the_browser_for_the_whole_sign_in(
        browser: Browser, server: LiveServer, callback: Callback):
    """An English browser, ``ui_locales=fr-CA de``: login and consent are French."""
    make_person(server, "lucie")
    client = server.cli_json("clients", "create", "--name", "Carnet", "--redirect-uri",
                             callback.url, "--scope", "openid profile", "--org", "north")
    context = context_in(browser, "en-US")
    page = context.new_page()
    try:
        verifier, challenge = pkce_pair()
        page.goto(f"{server.url}/oauth/authorize?" + urlencode({
            "response_type": "code", "client_id": client["client_id"],
            "redirect_uri": callback.url, "scope": "openid profile", "state": "s1",
            "code_challenge": challenge, "code_challenge_method": "S256",
            "nonce": "n1", "ui_locales": "fr-CA de"}))
        page.wait_for_url(f"{server.url}/login?**")
        t = words("fr")
        expect(page.locator("h1")).to_have_text(t("Sign in to %(app)s") % {"app": "Carnet"})
        check(page, "fr", "login, ui_locales")
        log_in(page, "lucie", PASSWORD)
        page.wait_for_url(f"{server.url}/consent?**")
        expect(page.locator("h1")).to_have_text(
            t("%(app)s wants to access your account") % {"app": "Carnet"})
        check(page, "fr", "consent, ui_locales")
        page.locator("button[name=decision][value=allow]").click()
        claims, _access = redeem_at_callback(page, server, client, callback, verifier, "n1")
        assert claims["aud"] == client["client_id"]
    finally:
        context.close()


def test_sign_up_confirmation_and_an_invitation_by_mail_in_spanish(
        browser: Browser, server: LiveServer, inbox: Inbox):
    t = words("es")
    context = context_in(browser, "es-ES")
    page = context.new_page()
    try:
        # Sign-up: the mail is in Spanish; its link lets the address's owner make the account.
        page.goto(f"{server.url}/signup")
        page.fill("input[name=email]", "rosa@example.com")
        page.locator("form button[type=submit]").click()
        in_language(page, "es", "Check your mail")
        check(page, "es", "sign-up sent")
        mail = inbox.wait_for("rosa@example.com")
        assert mail["Subject"] == t("Finish creating your account")
        page.goto(link_in(mail, "/signup/confirm/"))
        check(page, "es", "sign-up confirm")
        choose_account(page, "rosa")
        page.wait_for_url(f"{server.url}/login?**")
        in_language(page, "es", "Your account is ready: sign in.")
        log_in(page, "rosa", PASSWORD)
        page.wait_for_url(f"{server.url}/")

        # An address an administrator typed in: confirmed from the account page's mail.
        server.cli_json("users", "create", "tomas", "--email", "tomas@example.com",
                        "--password", PASSWORD)
        other = context_in(browser, "es-ES")
        try:
            mine = other.new_page()
            mine.goto(f"{server.url}/login")
            log_in(mine, "tomas", PASSWORD)
            mine.wait_for_url(f"{server.url}/")
            mine.goto(f"{server.url}/account")
            mine.get_by_role("button", name=t("Send me a confirmation link")).click()
            in_language(mine, "es", "A confirmation link is on its way to your address.")
            mail = inbox.wait_for("tomas@example.com")
            subject = t("Confirm your email address")
            assert mail["Subject"] == subject != "Confirm your email address"
            mine.goto(link_in(mail, "/email/verify/"))
            in_language(mine, "es", "Address confirmed")
            check(mine, "es", "verified")
        finally:
            other.close()

        # An invitation from the command line: the link opens a Spanish page.
        server.cli("orgs", "invite", "south", "pablo@example.com", "--role", "admin")
        invite = inbox.wait_for("pablo@example.com")
        other = context_in(browser, "es-ES")
        try:
            joining = other.new_page()
            joining.goto(link_in(invite, "/invite/"))
            expect(joining.locator("h1")).to_have_text(
                t("Join %(org)s") % {"org": "South GmbH"})
            check(joining, "es", "invitation")
            choose_account(joining, "pablo")
            joining.wait_for_url(f"{server.url}/login?**")
            in_language(joining, "es", "You joined the organization. Sign in to go on.")
        finally:
            other.close()
    finally:
        context.close()


def test_the_brand_is_on_every_page_and_in_the_stylesheet(server: LiveServer):
    css = requests.get(f"{server.url}/brand.css", timeout=10)
    assert css.status_code == 200
    assert css.headers["Content-Type"].startswith("text/css")
    assert "--accent: #0b6e4f" in css.text
    discovery = server.discovery()
    assert discovery["ui_locales_supported"] == ["en", "de", "fr", "es"]
    page = requests.get(f"{server.url}/login", headers={"Accept-Language": "fr"}, timeout=10)
    assert f"· {BRAND}</title>" in page.text
    assert '<html lang="fr">' in page.text
    assert "Accept-Language" in page.headers["Vary"]
    assert '<header class="brand">' in page.text
