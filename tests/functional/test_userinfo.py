"""UserInfo: the three ways to present the token, claims by scope, Clerk's fields, errors."""

from __future__ import annotations

import pytest

from idp.extensions import db
from idp.models import Grant, User
from tests.conftest import PASSWORD, REDIRECT_URI
from tests.helpers import get_code


@pytest.fixture
def tokens(oauth, alice, web, app):
    def issue(scope="openid profile email"):
        assert oauth.login("alice", PASSWORD).status_code == 303
        code = get_code(oauth, scope=scope)
        response = oauth.exchange(code, "web", web.client_secret, redirect_uri=REDIRECT_URI)
        assert response.status_code == 200
        return response.get_json()

    with app.app_context():
        user = db.session.get(User, alice.id)
        user.public_metadata = {"plan": "pro"}
        user.private_metadata = {"internal": 7}
        user.unsafe_metadata = {"theme": "dark"}
        db.session.commit()
    return issue


def assert_invalid_token(response):
    assert response.status_code == 401
    assert response.get_json()["error"] == "invalid_token"
    assert response.headers["WWW-Authenticate"].startswith("Bearer ")
    assert 'error="invalid_token"' in response.headers["WWW-Authenticate"]


def test_get_with_bearer_header(client, tokens, alice):
    token = tokens()["access_token"]
    response = client.get("/oauth/userinfo", headers={"Authorization": f"Bearer {token}"})
    assert response.status_code == 200
    assert response.headers["Cache-Control"] == "no-store"
    body = response.get_json()
    assert body["sub"] == alice.id
    assert body["object"] == "oauth_user_info"
    assert body["user_id"] == alice.id
    assert body["instance_id"].startswith("ins_")
    assert body["username"] == "alice"
    assert body["preferred_username"] == "alice"
    assert body["email"] == "alice@example.com"
    assert body["email_verified"] is True
    assert body["given_name"] == "Alice"
    assert body["family_name"] == "Anders"
    assert body["name"] == "Alice Anders"
    assert body["unsafe_metadata"] == {"theme": "dark"}  # with profile
    assert "public_metadata" not in body  # each only with its own scope
    assert "private_metadata" not in body


def test_post_with_bearer_header(client, tokens, alice):
    token = tokens()["access_token"]
    response = client.post("/oauth/userinfo", headers={"Authorization": f"Bearer {token}"})
    assert response.status_code == 200
    assert response.get_json()["sub"] == alice.id


def test_post_with_form_body(client, tokens, alice):
    token = tokens()["access_token"]
    response = client.post("/oauth/userinfo", data={"access_token": token})
    assert response.status_code == 200
    assert response.get_json()["sub"] == alice.id


def test_token_in_header_and_body_is_invalid_request(client, tokens):
    token = tokens()["access_token"]
    response = client.post("/oauth/userinfo", data={"access_token": token},
                           headers={"Authorization": f"Bearer {token}"})
    assert response.status_code == 400
    assert response.get_json()["error"] == "invalid_request"


def test_private_metadata_only_with_its_scope(client, make_client, tokens, web, app):
    with app.app_context():
        from idp.models import Client
        db.session.get(Client, "web").scope += " private_metadata"
        db.session.commit()
    token = tokens("openid private_metadata")["access_token"]
    body = client.get("/oauth/userinfo", headers={"Authorization": f"Bearer {token}"}).get_json()
    assert body["private_metadata"] == {"internal": 7}


def test_missing_token_is_401(client):
    assert_invalid_token(client.get("/oauth/userinfo"))


@pytest.mark.parametrize("header", ["Bearer not-a-jwt", "Bearer " + "a.b.c", "Basic abc",
                                    "Bearer", "Bearer " + "x" * 10_000])
def test_malformed_token_is_401(client, header):
    assert_invalid_token(client.get("/oauth/userinfo", headers={"Authorization": header}))


def test_tampered_token_is_401(client, tokens):
    token = tokens()["access_token"]
    head, payload, signature = token.split(".")
    tampered = f"{head}.{payload[:-2]}AA.{signature}"
    assert_invalid_token(client.get("/oauth/userinfo",
                                    headers={"Authorization": f"Bearer {tampered}"}))


def test_revoked_token_is_401(client, tokens, app):
    token = tokens()["access_token"]
    with app.app_context():
        db.session.query(Grant).update({"revoked_at": 1})
        db.session.commit()
    assert_invalid_token(client.get("/oauth/userinfo",
                                    headers={"Authorization": f"Bearer {token}"}))


def test_expired_token_is_401(client, tokens, app, monkeypatch):
    token = tokens()["access_token"]
    import idp.oauth.bearer as bearer
    monkeypatch.setattr(bearer, "now", lambda: 2**40)
    assert_invalid_token(client.get("/oauth/userinfo",
                                    headers={"Authorization": f"Bearer {token}"}))


def test_disabled_user_is_401(client, tokens, app, alice):
    token = tokens()["access_token"]
    with app.app_context():
        db.session.get(User, alice.id).disabled = True
        db.session.commit()
    assert_invalid_token(client.get("/oauth/userinfo",
                                    headers={"Authorization": f"Bearer {token}"}))


def test_token_without_openid_is_403_insufficient_scope(client, tokens):
    token = tokens("profile")["access_token"]
    response = client.get("/oauth/userinfo", headers={"Authorization": f"Bearer {token}"})
    assert response.status_code == 403
    assert response.get_json()["error"] == "insufficient_scope"
    challenge = response.headers["WWW-Authenticate"]
    assert challenge == 'Bearer error="insufficient_scope", scope="openid"'

