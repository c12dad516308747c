"""The playground's rules that need no provider over HTTP: off unless turned on, its
client registered by ``init``, secrets masked, the redirect URI's checks, runs
sealed on the server. (The flows themselves run in chromium, tests/browser.)"""

from __future__ import annotations

import base64

import pytest
from sqlalchemy import select

from idp import playground
from idp.extensions import db
from idp.models import Client, PlaygroundRun
from idp.playground import exchange, inspect, runs
from idp.playground.exchange import MASK, Exchange

from ..helpers import ISSUER


@pytest.fixture
def on(make_app):
    return make_app(PLAYGROUND=True)


def test_off_by_default_everything_is_404(client):
    for path in ("/playground", "/playground/callback?code=x&state=y"):
        assert client.get(path).status_code == 404


def test_on_the_page_opens_for_anyone(on):
    page = on.test_client().get("/playground?flow=password&username=alice&scope=openid")
    assert page.status_code == 200
    html = page.get_data(True)
    assert f"{ISSUER}/playground/callback" in html
    assert 'value="alice"' in html
    assert "Run Password (PrivX)" in html


def test_init_registers_the_client_only_when_on(app, on):
    off = app.test_cli_runner().invoke(args=["idp", "init"])
    assert off.exit_code == 0, off.output
    with app.app_context():
        assert db.session.get(Client, playground.CLIENT_ID) is None
    done = on.test_cli_runner().invoke(args=["idp", "init"])
    assert done.exit_code == 0, done.output
    assert "playground" in done.output
    with on.app_context():
        client = db.session.get(Client, playground.CLIENT_ID)
        assert client.redirect_uris == [f"{ISSUER}/playground/callback"]
        assert client.check_client_secret(playground.client_secret())
        assert "client_delegate" in client.grant_types
    again = on.test_cli_runner().invoke(args=["idp", "init"])  # idempotent
    assert again.exit_code == 0, again.output


def test_demo_turns_it_on_for_init(app):
    done = app.test_cli_runner().invoke(args=["idp", "init", "--demo"])
    assert done.exit_code == 0, done.output
    with app.app_context():
        assert db.session.get(Client, playground.CLIENT_ID) is not None


def test_secrets_are_masked_unless_revealed():
    sent = Exchange("t", "POST", "https://id.example/oauth/token",
                    headers=[["Authorization", exchange.basic("playground", "s3cret:/x")],
                             ["Content-Type", "application/x-www-form-urlencoded"]],
                    form=[["grant_type", "password"], ["username", "alice"],
                          ["password", "hunter2"], ["refresh_token", "rt"]],
                    status=200,
                    response='{"access_token": "at", "id_token": "it", "token_type": "Bearer"}')
    assert sent.shown_headers(False)[0] == ["Authorization", f"Basic {MASK}"]
    assert sent.shown_headers(True)[0] == ["Authorization", f"Basic {MASK}"]  # never shown
    assert "s3cret" not in sent.curl(True)
    assert sent.shown_form(False) == [["grant_type", "password"], ["username", "alice"],
                                      ["password", MASK], ["refresh_token", MASK]]
    curl = sent.curl(False)
    for secret in ("hunter2", "rt", "s3cret"):
        assert secret not in curl
    assert "'Authorization: Basic [hidden]'" in curl
    shown = sent.shown_response(False)
    assert '"access_token": "[hidden]"' in shown
    assert '"id_token": "[hidden]"' in shown
    assert '"token_type": "Bearer"' in shown
    revealed = sent.curl(True)
    assert "password=hunter2" in revealed
    credentials = base64.b64decode(sent.headers[0][1].split()[1]).decode()
    assert credentials == "playground:s3cret%3A%2Fx"  # RFC 6749 §2.3.1: form-encoded first


def test_the_shared_link_never_holds_a_password(on):
    with on.test_request_context():
        from idp.views.playground import _here

        link = _here("password", {"username": "alice", "password": "hunter2",
                                  "scope": "openid"})
    assert "hunter2" not in link
    assert "username=alice" in link


def _run_in(app, client) -> runs.Run:
    with app.test_request_context():
        run = runs.start()
        runs.save(run)
        db.session.commit()
    client.set_cookie(runs.COOKIE, run.id)
    return run


def test_the_redirect_uri_checks_state_and_iss(on):
    browser = on.test_client()
    run = _run_in(on, browser)
    forged = browser.get("/playground/callback?code=abc&state=not-this-run")
    assert forged.status_code == 400
    assert "state does not match" in forged.get_data(True)
    mixed = browser.get(f"/playground/callback?code=abc&state={run.state}"
                        "&iss=https://evil.example")
    assert mixed.status_code == 400
    assert "mix-up" in mixed.get_data(True)
    good = browser.get(f"/playground/callback?code=abc&state={run.state}&iss={ISSUER}")
    assert good.status_code == 302
    with on.test_request_context(headers={"Cookie": f"{runs.COOKIE}={run.id}"}):
        assert runs.current().code == "abc"


def test_a_form_post_callback_needs_no_csrf_token_and_the_fragment_gets_a_script(on):
    browser = on.test_client()
    run = _run_in(on, browser)
    posted = browser.post("/playground/callback", data={"code": "xyz", "state": run.state})
    assert posted.status_code == 303
    fragment = browser.get("/playground/callback")
    assert fragment.status_code == 200
    assert "playground.js" in fragment.get_data(True)


def test_a_run_is_sealed_on_the_server(on):
    browser = on.test_client()
    run = _run_in(on, browser)
    browser.get(f"/playground/callback?code=the-code-value&state={run.state}")
    with on.app_context():
        row = db.session.scalar(select(PlaygroundRun))
        assert "the-code-value" not in row.sealed
        assert run.state not in row.sealed
    assert "the-code-value" not in browser.get_cookie(runs.COOKIE).value


def test_a_step_without_a_run_says_so(on):
    browser = on.test_client()
    page = browser.get("/playground")
    token = page.get_data(True).split('name="csrf_token" value="')[1].split('"')[0]
    answer = browser.post("/playground/step", data={"csrf_token": token, "action": "redeem"})
    assert answer.status_code == 400
    assert "start a flow first" in answer.get_data(True)


def test_claims_and_errors_are_explained():
    decoded = inspect.decode("t", "a.b", None, ["RS256"])
    assert decoded.valid is None
    assert "Opaque" in decoded.verdict
    words, link = inspect.explain_error({"error": "invalid_grant",
                                         "error_description": "used"}, 400)
    assert "used already" in words
    assert link.endswith("rfc6749#section-5.2")


def test_an_authorization_error_is_explained(on):
    browser = on.test_client()
    run = _run_in(on, browser)
    back = browser.get(f"/playground/callback?error=login_required&state={run.state}",
                       follow_redirects=True)
    assert back.status_code == 200
    assert "prompt=none, but nobody is signed in" in back.get_data(True)


def test_a_hostile_pasted_token_gets_an_answer_not_a_500(on):
    browser = on.test_client()
    token = browser.get("/playground").get_data(True).split(
        'name="csrf_token" value="')[1].split('"')[0]
    nested = base64.urlsafe_b64encode(b"[" * 5000 + b"]" * 5000).decode().rstrip("=")
    deep = inspect.decode("pasted", f"eyJhbGciOiJSUzI1NiJ9.{nested}.x", {"keys": []},
                          ["RS256"])
    assert deep.verdict.startswith("Not a JWT")
    huge = browser.post("/playground/decode", data={"csrf_token": token, "jwt": "a" * 20000})
    assert huge.status_code == 400
    assert "longer than any token" in huge.get_data(True)
