"""Login, logout, the session, headers, and the allowed-hosts gate."""

from __future__ import annotations

import re
from urllib.parse import urlencode

import pytest

from idp.extensions import db
from idp.models import AuditEvent, LoginSession, User
from tests.conftest import PASSWORD
from tests.helpers import csrf_token


def test_login_page_has_labelled_fields_and_csrf(client):
    page = client.get("/login")
    html = page.get_data(True)
    assert page.status_code == 200
    assert 'name="username"' in html
    assert 'name="password"' in html
    assert '<label for="username">' in html
    assert '<label for="password">' in html
    assert html.count('type="submit"') == 1
    assert csrf_token(html)


def test_login_by_username_or_email(oauth, alice, client):
    assert oauth.login("alice", PASSWORD).status_code == 303
    assert "signed in as" in client.get("/").get_data(True)
    client.delete_cookie("idp_session")
    assert oauth.login("ALICE@example.com", PASSWORD).status_code == 303


@pytest.mark.parametrize(("username", "password"), [("alice", "wrong-password"),
                                                    ("nobody", PASSWORD)])
def test_wrong_credentials_look_the_same(oauth, alice, username, password, app):
    response = oauth.login(username, password)
    assert response.status_code == 401
    assert "Wrong username or password." in response.get_data(True)
    with app.app_context():
        assert db.session.query(AuditEvent).filter_by(tag="login.failure").count() == 1
        assert db.session.query(LoginSession).count() == 0


def test_disabled_user_cannot_sign_in(oauth, alice, app):
    with app.app_context():
        db.session.get(User, alice.id).disabled = True
        db.session.commit()
    assert oauth.login("alice", PASSWORD).status_code == 401


def test_login_without_csrf_token_is_rejected(client, alice, app):
    response = client.post("/login", data={"username": "alice", "password": PASSWORD})
    assert response.status_code == 400
    with app.app_context():
        assert db.session.query(LoginSession).count() == 0


@pytest.mark.parametrize("target", ["https://evil.example/", "//evil.example/",
                                    "/\\evil.example", "javascript:alert(1)"])
def test_login_ignores_an_offsite_next(oauth, alice, target):
    response = oauth.login("alice", PASSWORD, at="/login?" + urlencode({"next": target}))
    assert response.headers["Location"] == "/"


def test_login_returns_to_a_local_next(oauth, alice):
    response = oauth.login("alice", PASSWORD, at="/login?next=/account")
    assert response.headers["Location"] == "/account"


def test_login_records_a_session_and_renews_the_cookie(oauth, alice, client, app):
    client.get("/login")
    before = client.get_cookie("idp_session").value
    oauth.login("alice", PASSWORD)
    after = client.get_cookie("idp_session")
    assert after.value != before
    assert after.http_only
    assert after.same_site == "Lax"
    with app.app_context():
        session = db.session.query(LoginSession).one()
        assert session.user_id == alice.id
        assert session.amr == ["pwd"]
        assert db.session.query(AuditEvent).filter_by(tag="login.success").count() == 1


def test_logout_ends_the_session(oauth, alice, client, app):
    oauth.login("alice", PASSWORD)
    page = client.get("/logout")
    response = client.post("/logout", data={"csrf_token": csrf_token(page.get_data(True))})
    assert response.status_code == 200
    assert "signed out" in response.get_data(True)
    assert "Sign in" in client.get("/").get_data(True)
    with app.app_context():
        assert db.session.query(LoginSession).one().ended_at is not None


def test_ended_session_signs_the_browser_out(oauth, alice, client, app):
    oauth.login("alice", PASSWORD)
    with app.app_context():
        db.session.query(LoginSession).update({"ended_at": 1})
        db.session.commit()
    assert "Sign in" in client.get("/").get_data(True)


def test_pages_carry_security_headers(client):
    response = client.get("/login")
    assert "frame-ancestors 'none'" in response.headers["Content-Security-Policy"]
    # The one script (passkeys) runs by the page's nonce; nothing inline, nothing else.
    assert re.search(r"script-src 'nonce-[\w-]{22}'; connect-src 'self'$",
                     response.headers["Content-Security-Policy"])
    assert response.headers["X-Frame-Options"] == "DENY"
    assert response.headers["Referrer-Policy"] == "same-origin"
    assert response.headers["X-Content-Type-Options"] == "nosniff"
    assert response.headers["Cache-Control"] == "no-store"


@pytest.mark.parametrize("path", ["/login", "/oauth/token", "/.well-known/jwks.json"])
def test_other_hosts_are_403_access_denied(client, path):
    response = client.get(path, headers={"Host": "satellite.example"})
    assert response.status_code == 403
    assert response.get_json()["error"] == "access_denied"


def test_unknown_page_is_404_html_and_json_for_machines(client):
    assert client.get("/nope").status_code == 404
    response = client.get("/.well-known/nope")
    assert response.status_code == 404
    assert response.get_json()["error"] == "invalid_request"
