"""Which language a page speaks, the team's brand on it, and the words people read.

Expected words come from the compiled catalogues (``babel.support.Translations``):
a page that shows English where German is due fails.
"""

from __future__ import annotations

import re
from pathlib import Path

import pytest
from babel.support import Translations
from markupsafe import escape
from wtforms.i18n import messages_path

from idp import create_app
from idp.brand import contrast
from idp.humane import device_name

from ..helpers import PASSWORD, authorize_params, csrf_token

ROOT = Path(__file__).resolve().parents[2]
CHROME_LINUX = ("Mozilla/5.0 (X11; Linux x86_64) AppleWebKit/537.36 (KHTML, like Gecko) "
                "Chrome/131.0.0.0 Safari/537.36")
IPHONE = ("Mozilla/5.0 (iPhone; CPU iPhone OS 17_0 like Mac OS X) AppleWebKit/605.1.15 "
          "(KHTML, like Gecko) Version/17.0 Mobile/15E148 Safari/604.1")


def t(language: str, message: str) -> str:
    translated = Translations.load(str(ROOT / "idp" / "translations"), [language]).gettext(message)
    if language != "en":
        assert translated != message, f"{language} does not translate {message!r}"
    return translated


def lang_of(html: str) -> str:
    return re.search(r'<html lang="([^"]+)">', html).group(1)


@pytest.mark.parametrize(("header", "language"), [
    ("de-DE,de;q=0.9,en;q=0.5", "de"), ("fr-CH, fr;q=0.9", "fr"), ("es", "es"),
    ("ja, en;q=0.1", "en"), ("", "en")])
def test_accept_language_picks_the_page_language(client, header, language):
    page = client.get("/login", headers={"Accept-Language": header} if header else {})
    html = page.get_data(True)
    assert lang_of(html) == language
    assert t(language, "Forgot password?") in html
    assert "Accept-Language" in page.headers["Vary"]


def test_ui_locales_outranks_accept_language_through_the_whole_interaction(
        client, oauth, alice, web):
    start = oauth.authorize(**authorize_params(ui_locales="xx es-MX fr"))
    assert start.status_code == 302
    login_url = start.headers["Location"]
    assert "ui_locales" not in login_url  # it is the interaction's, not the URL's
    page = client.get(login_url, headers={"Accept-Language": "de"})
    assert lang_of(page.get_data(True)) == "es"
    assert t("es", "Sign in to %(app)s") % {"app": "web app"} in page.get_data(True)
    signed = client.post(login_url, data={"username": "alice", "password": "wrong",
                                          "csrf_token": csrf_token(page.get_data(True))},
                         headers={"Accept-Language": "de"})
    assert t("es", "Wrong username or password.") in signed.get_data(True)


def test_the_default_language_is_a_setting(make_app):
    app = make_app(LOCALE="fr")
    page = app.test_client().get("/login", headers={"Accept-Language": "ja"})
    assert lang_of(page.get_data(True)) == "fr"
    with pytest.raises(ValueError, match="IDP_LOCALE"):
        make_app(LOCALE="xx")


def test_form_errors_are_in_the_page_language(client):
    page = client.get("/login", headers={"Accept-Language": "de"})
    answer = client.post("/login", data={"csrf_token": csrf_token(page.get_data(True))},
                         headers={"Accept-Language": "de"})
    html = answer.get_data(True)
    required = Translations.load(messages_path(), ["de"], domain="wtforms").gettext(
        "This field is required.")  # WTForms' own catalogue
    assert required != "This field is required."
    assert required in html
    assert 'aria-invalid="true"' in html
    assert 'aria-describedby="username-error"' in html
    assert 'id="username-error"' in html


@pytest.mark.parametrize(("method", "path", "data"), [
    ("POST", "/oauth/token", {"grant_type": "nonsense"}),
    ("GET", "/oauth/token", None),  # 405, Werkzeug's own
    ("GET", "/.well-known/nothing-here", None),  # 404, Werkzeug's own
])
def test_json_errors_stay_english_whatever_the_language(client, method, path, data):
    def ask(language):
        return client.open(path, method=method, data=data,
                           headers={"Accept-Language": language, "Accept": "application/json"})

    german, english = ask("de"), ask("en")
    assert german.status_code == english.status_code >= 400
    assert german.get_json() == english.get_json()
    assert german.get_json()["error_description"]


def test_an_error_page_says_what_to_do_and_links_back(client):
    page = client.get("/consent?interaction=nope", headers={"Accept-Language": "fr"})
    html = page.get_data(True)
    assert page.status_code == 400
    assert escape(t("fr", "This sign-in request is not known in this browser. Go back to the "
                          "application and start again.")) in html
    assert 'href="/login"' in html
    assert t("fr", "Back to sign in") in html


def test_the_429_page_says_how_long_to_wait(client, alice, oauth):
    for i in range(10):
        oauth.login("alice", f"guess-{i}")
    page = client.get("/login")
    refused = client.post("/login", headers={"Accept-Language": "de"}, data={
        "username": "alice", "password": "guess", "csrf_token": csrf_token(page.get_data(True))})
    assert refused.status_code == 429
    wait = int(refused.headers["Retry-After"])
    html = refused.get_data(True)
    assert f'data-retry-after="{wait}"' in html
    assert re.search(r"Warten Sie \d+ (Sekunden|Minuten?)", html), html
    assert t("de", "Too many attempts") in html


def test_brand_settings_are_checked_and_reach_every_page(make_app):
    with pytest.raises(ValueError, match="IDP_BRAND_COLOR"):
        make_app(BRAND_COLOR="red; background: url(x)")
    with pytest.raises(ValueError, match="IDP_BRAND_LOGO_URL"):
        make_app(BRAND_LOGO_URL="javascript:alert(1)")
    app = make_app(BRAND_NAME="Acme <ID>", BRAND_LOGO_URL="https://cdn.example.com/a.svg",
                   BRAND_COLOR="#ffeb3b")
    client = app.test_client()
    for path in ("/login", "/password/forgot", "/no/such/page"):
        html = client.get(path).get_data(True)
        assert "· Acme &lt;ID&gt;</title>" in html, path
        assert '<img src="https://cdn.example.com/a.svg"' in html, path
    css = client.get("/brand.css").get_data(True)
    assert "--accent: #ffeb3b" in css
    # Yellow: black text on it, and a focus ring that shows on white.
    assert "--accent-fg: #1d2330" in css
    assert "--ring: #1d2330" in css


@pytest.mark.parametrize("color", ["#2f5bd3", "#0b6e4f", "#ffeb3b", "#fff", "#000", "#e11d48"])
def test_brand_colours_keep_their_contrast(color):
    from idp.brand import Brand

    brand = Brand(name="x", logo_url="", color=color)
    ring = re.search(r"--ring: (#\w+)", brand.css).group(1)
    assert contrast(brand.on_accent, color) >= 4.5
    assert contrast(ring, "#ffffff") >= 3


def test_the_stylesheet_keeps_control_borders_and_the_focus_ring_at_3_to_1():
    css = (ROOT / "static" / "style.css").read_text()
    control = re.search(r"--control: (#\w+)", css).group(1)
    ring = re.search(r"--ring: (#\w+)", css).group(1)
    for background in ("#ffffff", "#f4f6fa"):
        assert contrast(control, background) >= 3
        assert contrast(ring, background) >= 3
    assert "border: 1px solid var(--control)" in css
    assert "outline: 3px solid var(--ring)" in css


def test_sessions_read_as_words(app, client, alice, oauth):
    from flask.testing import FlaskClient

    from tests.helpers import OAuthClient

    phone = FlaskClient(app, use_cookies=True)
    phone.environ_base["HTTP_USER_AGENT"] = IPHONE
    OAuthClient(phone).login("alice", PASSWORD)
    client.environ_base["HTTP_USER_AGENT"] = CHROME_LINUX
    oauth.login("alice", PASSWORD)
    html = client.get("/account").get_data(True)
    assert re.search(r"Chrome on Linux · signed in just now · <strong>this device</strong>", html)
    assert "Mobile Safari on iOS · signed in just now" in html
    assert "Mozilla/5.0" not in html


def test_device_names():
    with create_app({"TESTING": True, "SECRET_KEY": "x"}).test_request_context(
            headers={"Accept-Language": "de"}):
        assert device_name(CHROME_LINUX) == t("de", "%(browser)s on %(system)s") % {
            "browser": "Chrome", "system": "Linux"}
        assert device_name(None) == t("de", "Unknown browser")
        assert device_name("curl/8.5.0") == "curl"


def test_allowed_applications_show_their_scopes_in_words(client, oauth, alice, web):
    from ..helpers import get_code

    oauth.login("alice", PASSWORD)
    get_code(oauth, scope="openid email")
    html = client.get("/account").get_data(True)
    assert "Confirm who you are; See your email address" in html


def test_consent_names_the_organization_and_the_role(client, oauth, alice, web, make_org):
    make_org("acme", "Acme Corp", members=[alice])
    oauth.login("alice", PASSWORD)
    response = oauth.authorize(**authorize_params(scope="openid org"))
    page = client.get(response.headers["Location"])
    html = page.get_data(True)
    assert "data-org-explained" in html
    assert "<strong>Acme Corp</strong>, where you are a member" in html


def test_the_login_page_names_the_app_with_its_logo_and_home(client, oauth, alice, make_client):
    make_client("shop", name="Shop", logo_uri="https://shop.example/logo.png",
                client_uri="https://shop.example/")
    response = oauth.authorize(**authorize_params(client_id="shop"))
    html = client.get(response.headers["Location"]).get_data(True)
    assert "<h1>Sign in to Shop</h1>" in html
    assert '<img src="https://shop.example/logo.png"' in html
    assert 'href="https://shop.example/"' in html


def test_the_form_post_page_is_styled_and_names_the_app(client, oauth, alice, web):
    from ..helpers import form_post_params

    oauth.login("alice", PASSWORD)
    response = oauth.authorize(**authorize_params(response_mode="form_post"))
    if "/consent?" in response.headers.get("Location", ""):
        response = oauth.approve(response)
    html = response.get_data(True)
    assert response.status_code == 200
    assert "/static/style.css" in html
    assert "Returning to web app" in html
    action, _method, params = form_post_params(html)
    assert "code" in params
    assert action


def test_an_error_message_with_a_percent_sign_is_shown_as_it_is(app):
    from idp.errors import error_response

    with app.test_request_context("/x", headers={"Accept": "text/html"}):
        response = error_response(400, "upstream said: 100% %(nope)s %s")
    assert response.status_code == 400
    assert "upstream said: 100% %(nope)s %s" in response.get_data(True)


def test_the_language_asked_for_carries_through_a_password_reset(make_app, make_user):
    from ..mailbox import link_in, smtp_inbox

    with smtp_inbox() as inbox:
        app = make_app(SMTP_URL=inbox.url)
        with app.app_context():
            from idp.services import accounts

            accounts.create_user("dora", "dora@example.com", PASSWORD)
            from idp.extensions import db

            db.session.commit()
        client = app.test_client()
        login = client.get("/login?ui_locales=de").get_data(True)
        assert 'href="/password/forgot?ui_locales=de"' in login
        forgot = client.get("/password/forgot?ui_locales=de").get_data(True)
        sent = client.post("/password/forgot?ui_locales=de", data={
            "csrf_token": csrf_token(forgot), "email": "dora@example.com"})
        assert lang_of(sent.get_data(True)) == "de"
        assert app.extensions["idp.mail"].flush()
        [mail] = inbox.messages
        assert mail["Subject"] == t("de", "Reset your password")
        link = link_in(mail, "/password/reset/")
        assert link.endswith("?ui_locales=de")
        path = link.split("localhost", 1)[1]
        page = client.get(path).get_data(True)
        assert lang_of(page) == "de"
        done = client.post(path, data={"csrf_token": csrf_token(page), "password": "a new pass 12",
                                       "password2": "a new pass 12"})
        assert done.headers["Location"] == "/login?reason=reset&ui_locales=de"
