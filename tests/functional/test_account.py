"""The account page: password change ends other sessions; consents can be withdrawn."""

from __future__ import annotations

import re

from idp.extensions import db
from idp.models import AuditEvent, Consent, LoginSession
from tests.helpers import PASSWORD, csrf_token


def account_page(http):
    page = http.get("/account")
    assert page.status_code == 200, page.status_code
    return page.get_data(True)


def post_form(http, path, html, **fields):
    return http.post(path, data={"csrf_token": csrf_token(html), **fields})


def test_account_needs_a_signed_in_user(client):
    response = client.get("/account")
    assert response.status_code == 302
    assert response.headers["Location"].startswith("/login?next=")


def test_password_change_ends_other_sessions_but_this_one(app, alice, oauth, client):
    from flask.testing import FlaskClient
    other = FlaskClient(app, use_cookies=True)
    from tests.helpers import OAuthClient
    assert OAuthClient(other).login("alice", PASSWORD).status_code == 303
    assert oauth.login("alice", PASSWORD).status_code == 303

    html = account_page(client)
    response = post_form(client, "/account/password", html, current_password=PASSWORD,
                         new_password="a brand new passphrase",
                         confirm_password="a brand new passphrase")
    assert response.status_code == 303
    assert "changed" in client.get(response.headers["Location"]).get_data(True)
    assert "Sign in" in other.get("/").get_data(True)  # the other browser is signed out
    assert "signed in as" in client.get("/").get_data(True)
    client.delete_cookie("idp_session")
    assert oauth.login("alice", PASSWORD).status_code == 401
    assert oauth.login("alice", "a brand new passphrase").status_code == 303
    with app.app_context():
        assert db.session.query(AuditEvent).filter_by(tag="password.changed").count() == 1
        assert db.session.query(LoginSession).filter(LoginSession.ended_at.is_(None)).count() == 2


def test_password_change_needs_the_current_password(alice, oauth, client):
    oauth.login("alice", PASSWORD)
    response = post_form(client, "/account/password", account_page(client),
                         current_password="not it", new_password="another passphrase",
                         confirm_password="another passphrase")
    assert response.status_code == 400
    assert "current password is wrong" in response.get_data(True)


def test_password_change_refuses_a_short_or_mismatched_password(alice, oauth, client):
    oauth.login("alice", PASSWORD)
    short = post_form(client, "/account/password", account_page(client),
                      current_password=PASSWORD, new_password="short",
                      confirm_password="short")
    assert short.status_code == 400
    assert "at least 8" in short.get_data(True)
    mismatch = post_form(client, "/account/password", account_page(client),
                         current_password=PASSWORD, new_password="long enough one",
                         confirm_password="long enough two")
    assert mismatch.status_code == 400
    assert "do not match" in mismatch.get_data(True)


def test_withdrawing_consent_revokes_the_clients_tokens(app, code_tokens, web, client):
    body = code_tokens()
    html = account_page(client)
    assert "web app" in html
    response = post_form(client, "/account/consents/web/revoke", html)
    assert response.status_code == 303
    auth = {"Authorization": f"Bearer {body['access_token']}"}
    assert client.get("/oauth/userinfo", headers=auth).status_code == 401
    with app.app_context():
        assert db.session.query(Consent).count() == 0
        assert db.session.query(AuditEvent).filter_by(tag="consent.revoked").count() == 1


def test_withdrawing_needs_the_csrf_token(app, code_tokens, client):
    code_tokens()
    assert client.post("/account/consents/web/revoke").status_code == 400
    with app.app_context():
        assert db.session.query(Consent).count() == 1


def test_ending_another_session_signs_that_browser_out(app, alice, oauth, client):
    from flask.testing import FlaskClient

    from tests.helpers import OAuthClient
    other = FlaskClient(app, use_cookies=True)
    OAuthClient(other).login("alice", PASSWORD)
    oauth.login("alice", PASSWORD)
    html = account_page(client)
    rows = re.findall(r'<li>\s*<span data-session="(\w+)">.*?</span>\s*<form method="post" '
                      r'action="/account/sessions/([^/"]+)/end"', html, re.S)
    assert len(rows) == 2
    [other_sid] = [sid for which, sid in rows if which == "other"]
    response = post_form(client, f"/account/sessions/{other_sid}/end", html)
    assert response.status_code == 303
    assert "Sign in" in other.get("/").get_data(True)
    assert "signed in as" in client.get("/").get_data(True)


def test_cannot_end_someone_elses_session(app, alice, make_user, oauth, client):
    from flask.testing import FlaskClient

    from tests.helpers import OAuthClient
    make_user("bob")
    bobs = FlaskClient(app, use_cookies=True)
    OAuthClient(bobs).login("bob", PASSWORD)
    with app.app_context():
        bob_sid = db.session.query(LoginSession).one().sid
    oauth.login("alice", PASSWORD)
    response = post_form(client, f"/account/sessions/{bob_sid}/end", account_page(client))
    assert response.status_code == 404
    assert "signed in as" in bobs.get("/").get_data(True)


def test_a_password_change_revokes_every_grant_but_this_sessions(app, alice, oauth, client,
                                                                  make_client, endpoint, web):
    """Refresh tokens of the password grant and of offline_access die with the old
    password; the session that changed it keeps its own."""
    from tests.helpers import REDIRECT_URI, get_code
    pw = make_client("pw", grant_types=["password", "refresh_token"], redirect_uris=[],
                     scope="openid offline_access")
    by_password = endpoint.ok({"grant_type": "password", "username": "alice",
                               "password": PASSWORD, "scope": "openid offline_access"},
                              "pw", pw.client_secret)
    from flask.testing import FlaskClient

    from tests.helpers import OAuthClient
    elsewhere = OAuthClient(FlaskClient(app, use_cookies=True))
    assert elsewhere.login("alice", PASSWORD).status_code == 303
    offline_code = get_code(elsewhere, scope="openid offline_access")
    offline = endpoint.ok({"grant_type": "authorization_code", "code": offline_code,
                           "redirect_uri": REDIRECT_URI}, "web", web.client_secret)
    assert oauth.login("alice", PASSWORD).status_code == 303
    own = endpoint.ok({"grant_type": "authorization_code", "code": get_code(oauth),
                       "redirect_uri": REDIRECT_URI}, "web", web.client_secret)

    response = post_form(client, "/account/password", account_page(client),
                         current_password=PASSWORD, new_password="a brand new passphrase",
                         confirm_password="a brand new passphrase")
    assert response.status_code == 303
    page = client.get(response.headers["Location"]).get_data(True)
    assert "must sign in again" in page  # the page says what happened

    def refreshes(body, client_id, secret):
        return endpoint.post({"grant_type": "refresh_token",
                              "refresh_token": body["refresh_token"]}, client_id, secret)

    assert refreshes(by_password, "pw", pw.client_secret).status_code == 400
    assert refreshes(offline, "web", web.client_secret).status_code == 400
    assert refreshes(own, "web", web.client_secret).status_code == 200
