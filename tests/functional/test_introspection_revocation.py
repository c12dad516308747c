"""Introspection (RFC 7662) and revocation (RFC 7009)."""

from __future__ import annotations

import pytest

from idp.extensions import db
from idp.models import AuditEvent, Grant, RevokedToken
from tests.helpers import assert_json_error, basic


def introspect(client, token, client_id="web", secret=None, **extra):
    return client.post("/oauth/introspect", data={"token": token, **extra},
                       headers=basic(client_id, secret))


def revoke(client, token, client_id="web", secret=None, **extra):
    return client.post("/oauth/revoke", data={"token": token, **extra},
                       headers=basic(client_id, secret) if secret else {})


def test_introspect_active_access_token(client, code_tokens, web, alice):
    body = code_tokens()
    response = introspect(client, body["access_token"], secret=web.client_secret)
    assert response.status_code == 200
    assert response.headers["Cache-Control"] == "no-store"
    info = response.get_json()
    assert info["active"] is True
    assert info["token_use"] == "access_token"
    assert info["token_type"] == "Bearer"
    assert info["sub"] == alice.id
    assert info["username"] == "alice"
    assert info["client_id"] == "web"
    assert info["scope"] == body["scope"]
    assert info["exp"] == body["claims"]["exp"]
    assert info["jti"] == body["claims"]["jti"]
    assert info["sid"] == body["claims"]["sid"]


def test_introspect_active_refresh_token(client, code_tokens, web):
    body = code_tokens()
    info = introspect(client, body["refresh_token"], secret=web.client_secret,
                      token_type_hint="refresh_token").get_json()
    assert info["active"] is True
    assert info["token_use"] == "refresh_token"
    assert info["scope"] == body["scope"]


def test_hint_only_orders_the_lookup(client, code_tokens, web):
    body = code_tokens()
    wrong_hint = introspect(client, body["refresh_token"], secret=web.client_secret,
                            token_type_hint="access_token").get_json()
    assert wrong_hint["active"] is True


def test_another_clients_token_is_inactive(client, code_tokens, make_client):
    other = make_client("other")
    body = code_tokens()
    info = introspect(client, body["access_token"], "other", other.client_secret).get_json()
    assert info == {"active": False}


@pytest.mark.parametrize("token", ["garbage", "a.b.c", "x" * 9000])
def test_unknown_token_is_inactive(client, web, token):
    assert introspect(client, token, secret=web.client_secret).get_json() == {"active": False}


def test_used_refresh_token_is_inactive(client, code_tokens, endpoint, web):
    body = code_tokens()
    endpoint.ok({"grant_type": "refresh_token", "refresh_token": body["refresh_token"]},
                "web", web.client_secret)
    info = introspect(client, body["refresh_token"], secret=web.client_secret).get_json()
    assert info == {"active": False}


def test_introspection_needs_client_authentication(client, code_tokens, web):
    body = code_tokens()
    response = client.post("/oauth/introspect", data={"token": body["access_token"]})
    assert_json_error(response, 401, "invalid_client")
    wrong = introspect(client, body["access_token"], secret="w" * 43)
    assert_json_error(wrong, 401, "invalid_client")
    assert wrong.headers["WWW-Authenticate"].startswith("Basic")


def test_introspection_without_token_is_invalid_request(client, web):
    response = client.post("/oauth/introspect", data={}, headers=basic("web", web.client_secret))
    assert_json_error(response, 400, "invalid_request")


def test_revoking_an_access_token(client, code_tokens, web, app):
    body = code_tokens()
    response = revoke(client, body["access_token"], secret=web.client_secret,
                      token_type_hint="access_token")
    assert response.status_code == 200
    assert response.get_json() == {}
    auth = {"Authorization": f"Bearer {body['access_token']}"}
    assert client.get("/oauth/userinfo", headers=auth).status_code == 401
    assert introspect(client, body["access_token"],
                      secret=web.client_secret).get_json() == {"active": False}
    with app.app_context():
        assert db.session.query(AuditEvent).filter_by(tag="token.revoked").count() == 1


def test_revoking_a_refresh_token_revokes_its_family(client, code_tokens, endpoint, web):
    first = code_tokens()
    second = endpoint.ok({"grant_type": "refresh_token", "refresh_token": first["refresh_token"]},
                         "web", web.client_secret)
    assert revoke(client, second["refresh_token"], secret=web.client_secret).status_code == 200
    for body in (first, second):
        auth = {"Authorization": f"Bearer {body['access_token']}"}
        assert client.get("/oauth/userinfo", headers=auth).status_code == 401
    again = endpoint.post({"grant_type": "refresh_token",
                           "refresh_token": second["refresh_token"]}, "web", web.client_secret)
    assert_json_error(again, 400, "invalid_grant")


def test_revoking_leaves_other_grants_alone(client, code_tokens, web):
    one, two = code_tokens(), code_tokens()
    revoke(client, one["refresh_token"], secret=web.client_secret)
    auth = {"Authorization": f"Bearer {two['access_token']}"}
    assert client.get("/oauth/userinfo", headers=auth).status_code == 200


def test_revoking_another_clients_token_does_nothing_and_says_nothing(client, code_tokens,
                                                                      make_client):
    other = make_client("other")
    body = code_tokens()
    response = revoke(client, body["access_token"], "other", other.client_secret)
    assert response.status_code == 200
    auth = {"Authorization": f"Bearer {body['access_token']}"}
    assert client.get("/oauth/userinfo", headers=auth).status_code == 200


def test_revoking_an_unknown_token_is_200(client, web):
    assert revoke(client, "nothing-like-it", secret=web.client_secret).status_code == 200


def test_revocation_rejects_an_unknown_hint(client, web):
    response = revoke(client, "x", secret=web.client_secret, token_type_hint="id_token")
    assert_json_error(response, 400, "unsupported_token_type")


def test_revocation_needs_client_authentication(client, code_tokens, app):
    body = code_tokens()
    response = client.post("/oauth/revoke", data={"token": body["access_token"]})
    assert_json_error(response, 401, "invalid_client")
    with app.app_context():
        assert db.session.query(RevokedToken).count() == 0
        assert db.session.query(Grant).filter(Grant.revoked_at.isnot(None)).count() == 0


def test_public_client_revokes_its_own_token(client, make_client, oauth, alice):
    from tests.conftest import PASSWORD, REDIRECT_URI
    from tests.helpers import get_code, pkce_pair
    make_client("spa", auth_method="none", skip_consent=True)
    assert oauth.login("alice", PASSWORD).status_code == 303
    verifier, challenge = pkce_pair()
    code = get_code(oauth, client_id="spa", code_challenge=challenge,
                    code_challenge_method="S256")
    body = oauth.exchange(code, "spa", redirect_uri=REDIRECT_URI, verifier=verifier).get_json()
    response = client.post("/oauth/revoke", data={"token": body["refresh_token"],
                                                  "client_id": "spa"})
    assert response.status_code == 200
    refreshed = client.post("/oauth/token", data={"grant_type": "refresh_token",
                                                  "refresh_token": body["refresh_token"],
                                                  "client_id": "spa"})
    assert_json_error(refreshed, 400, "invalid_grant")


def test_introspection_rejects_an_unknown_hint(client, web):
    response = introspect(client, "x", secret=web.client_secret, token_type_hint="id_token")
    assert_json_error(response, 400, "unsupported_token_type")
