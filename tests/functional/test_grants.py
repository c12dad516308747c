"""Every grant at the token endpoint: refresh, password, client credentials, delegation."""

from __future__ import annotations

import time

import pytest

from idp.extensions import db
from idp.models import AuditEvent, Consent, Grant, User
from tests.conftest import PASSWORD, REDIRECT_URI
from tests.helpers import assert_json_error, basic, get_code

EXCHANGE = "urn:ietf:params:oauth:grant-type:token-exchange"
ACCESS_TOKEN_TYPE = "urn:ietf:params:oauth:token-type:access_token"


# -- refresh_token --------------------------------------------------------------------


def refresh(endpoint, web, token: str, **extra):
    return endpoint.post({"grant_type": "refresh_token", "refresh_token": token, **extra},
                         "web", web.client_secret)


def test_refresh_rotates_and_keeps_the_session(code_tokens, endpoint, web, alice):
    first = code_tokens()
    second = endpoint.ok({"grant_type": "refresh_token", "refresh_token": first["refresh_token"]},
                         "web", web.client_secret)
    assert second["refresh_token"] != first["refresh_token"]
    assert second["claims"]["sub"] == alice.id
    assert second["claims"]["sid"] == first["claims"]["sid"]
    assert second["claims"]["jti"] != first["claims"]["jti"]
    assert second["scope"] == first["scope"]
    assert second["id_claims"]["sub"] == alice.id
    assert second["id_claims"]["sid"] == first["claims"]["sid"]
    assert "nonce" not in second["id_claims"]


def test_refresh_reuse_revokes_the_whole_family(code_tokens, endpoint, web, client, app):
    first = code_tokens()
    second = endpoint.ok({"grant_type": "refresh_token", "refresh_token": first["refresh_token"]},
                         "web", web.client_secret)
    assert_json_error(refresh(endpoint, web, first["refresh_token"]), 400, "invalid_grant")
    # Everything descended from the grant is dead: the rotated refresh token and
    # both access tokens.
    assert_json_error(refresh(endpoint, web, second["refresh_token"]), 400, "invalid_grant")
    for body in (first, second):
        auth = {"Authorization": f"Bearer {body['access_token']}"}
        assert client.get("/oauth/userinfo", headers=auth).status_code == 401
    with app.app_context():
        events = db.session.query(AuditEvent).filter_by(tag="token.reuse_detected").all()
        assert len(events) == 1
        assert events[0].details["kind"] == "refresh_token"


def test_two_refreshes_at_once_revoke_the_family_by_default(code_tokens, endpoint, web):
    first = code_tokens()
    winner = endpoint.ok({"grant_type": "refresh_token",
                          "refresh_token": first["refresh_token"]}, "web", web.client_secret)
    assert_json_error(refresh(endpoint, web, first["refresh_token"]), 400, "invalid_grant")
    assert_json_error(refresh(endpoint, web, winner["refresh_token"]), 400, "invalid_grant")


@pytest.fixture
def graceful(make_app):
    """A provider with a ten-second refresh grace window, and a first code redemption."""
    from idp.services import accounts, clients
    from tests.helpers import OAuthClient, Tokens

    app = make_app(REFRESH_GRACE_SECONDS=10)
    with app.app_context():
        accounts.create_user("alice", "alice@example.com", PASSWORD)
        web = clients.create_client("web app", client_id="web", redirect_uris=[REDIRECT_URI],
                                    scope="openid offline_access")
        db.session.commit()
    oauth, endpoint = OAuthClient(app.test_client()), Tokens(app.test_client())
    assert oauth.login("alice", PASSWORD).status_code == 303
    first = endpoint.ok({"grant_type": "authorization_code", "code": get_code(
        oauth, scope="openid offline_access"), "redirect_uri": REDIRECT_URI}, "web",
        web.client_secret)
    return endpoint, web, first


def test_within_the_grace_window_a_retried_refresh_gets_the_same_new_tokens(graceful):
    endpoint, web, first = graceful
    rotate = {"grant_type": "refresh_token", "refresh_token": first["refresh_token"]}
    one = endpoint.ok(rotate, "web", web.client_secret)
    again = endpoint.ok(rotate, "web", web.client_secret)  # a retry, or a second tab
    assert again["refresh_token"] == one["refresh_token"]
    assert again["claims"]["jti"] == one["claims"]["jti"]
    assert again["claims"]["iat"] == one["claims"]["iat"]
    assert again["access_token"] == one["access_token"]  # Ed25519 signs deterministically
    # The family goes on as one: the successor rotates normally.
    two = endpoint.ok({"grant_type": "refresh_token", "refresh_token": one["refresh_token"]},
                      "web", web.client_secret)
    assert two["refresh_token"] != one["refresh_token"]
    # Once the successor was used, the old token is a replay again, grace or not.
    assert_json_error(endpoint.post(rotate, "web", web.client_secret), 400, "invalid_grant")
    assert_json_error(endpoint.post({"grant_type": "refresh_token",
                                     "refresh_token": two["refresh_token"]}, "web",
                                    web.client_secret), 400, "invalid_grant")


def test_after_the_grace_window_a_replayed_refresh_revokes_the_family(graceful, monkeypatch):
    endpoint, web, first = graceful
    rotate = {"grant_type": "refresh_token", "refresh_token": first["refresh_token"]}
    one = endpoint.ok(rotate, "web", web.client_secret)
    later = time.time() + 11
    monkeypatch.setattr("idp.oauth.grants.refresh_token.now", lambda: int(later))
    assert_json_error(endpoint.post(rotate, "web", web.client_secret), 400, "invalid_grant")
    monkeypatch.undo()
    assert_json_error(endpoint.post({"grant_type": "refresh_token",
                                     "refresh_token": one["refresh_token"]}, "web",
                                    web.client_secret), 400, "invalid_grant")


def test_refresh_reuse_leaves_other_families_alone(code_tokens, endpoint, web):
    one, two = code_tokens(), code_tokens()
    endpoint.ok({"grant_type": "refresh_token", "refresh_token": one["refresh_token"]},
                "web", web.client_secret)
    assert_json_error(refresh(endpoint, web, one["refresh_token"]), 400, "invalid_grant")
    endpoint.ok({"grant_type": "refresh_token", "refresh_token": two["refresh_token"]},
                "web", web.client_secret)


def test_refresh_may_narrow_the_scope_and_the_new_token_keeps_the_grant(code_tokens, endpoint,
                                                                        web):
    first = code_tokens()
    narrow = endpoint.ok({"grant_type": "refresh_token", "refresh_token": first["refresh_token"],
                          "scope": "openid email"}, "web", web.client_secret)
    assert narrow["scope"] == "openid email"
    full = endpoint.ok({"grant_type": "refresh_token", "refresh_token": narrow["refresh_token"]},
                       "web", web.client_secret)
    assert full["scope"] == first["scope"]


def test_refresh_cannot_widen_the_scope(code_tokens, endpoint, web):
    first = code_tokens(scope="openid profile")
    assert_json_error(refresh(endpoint, web, first["refresh_token"], scope="openid email"),
                      400, "invalid_scope")
    # The failed attempt did not use the token up.
    endpoint.ok({"grant_type": "refresh_token", "refresh_token": first["refresh_token"]},
                "web", web.client_secret)


def test_expired_refresh_token_is_invalid_grant(code_tokens, endpoint, web, app):
    first = code_tokens()
    with app.app_context():
        db.session.query(Grant).update({"refresh_expires_at": int(time.time()) - 1})
        db.session.commit()
    assert_json_error(refresh(endpoint, web, first["refresh_token"]), 400, "invalid_grant")


def test_refresh_token_is_bound_to_its_client(code_tokens, endpoint, make_client, web):
    other = make_client("other")
    first = code_tokens()
    response = endpoint.post({"grant_type": "refresh_token",
                              "refresh_token": first["refresh_token"]},
                             "other", other.client_secret)
    assert_json_error(response, 400, "invalid_grant")
    endpoint.ok({"grant_type": "refresh_token", "refresh_token": first["refresh_token"]},
                "web", web.client_secret)


def test_disabled_user_cannot_refresh(code_tokens, endpoint, web, app, alice):
    first = code_tokens()
    with app.app_context():
        db.session.get(User, alice.id).disabled = True
        db.session.commit()
    assert_json_error(refresh(endpoint, web, first["refresh_token"]), 400, "invalid_grant")


def test_withdrawn_consent_stops_refreshes(code_tokens, endpoint, web, app):
    first = code_tokens()
    with app.app_context():
        db.session.query(Consent).delete()
        db.session.commit()
    assert_json_error(refresh(endpoint, web, first["refresh_token"]), 400, "invalid_grant")


@pytest.mark.parametrize("token", ["", "x" * 43, "y" * 5000])
def test_unknown_refresh_token_is_invalid(endpoint, web, token):
    response = refresh(endpoint, web, token)
    assert response.status_code == 400
    assert response.get_json()["error"] in {"invalid_grant", "invalid_request"}


def test_public_client_refreshes_without_a_secret(oauth, alice, make_client, endpoint):
    from tests.helpers import pkce_pair
    make_client("spa", auth_method="none", skip_consent=True)
    assert oauth.login("alice", PASSWORD).status_code == 303
    verifier, challenge = pkce_pair()
    code = get_code(oauth, client_id="spa", code_challenge=challenge,
                    code_challenge_method="S256")
    first = endpoint.ok({"grant_type": "authorization_code", "code": code,
                         "redirect_uri": REDIRECT_URI, "code_verifier": verifier}, "spa")
    second = endpoint.ok({"grant_type": "refresh_token",
                          "refresh_token": first["refresh_token"]}, "spa")
    assert second["claims"]["client_id"] == "spa"


# -- password ---------------------------------------------------------------------


@pytest.fixture
def external(make_client):
    """A PrivX "external" client: authorization_code and password."""
    return make_client("privx-external",
                       grant_types=["authorization_code", "password", "refresh_token"])


def test_password_grant_issues_tokens(endpoint, external, alice):
    body = endpoint.ok({"grant_type": "password", "username": "alice", "password": PASSWORD,
                        "scope": "openid profile"}, "privx-external", external.client_secret)
    assert body["claims"]["sub"] == alice.id
    assert body["claims"]["client_id"] == "privx-external"
    assert body["refresh_token"]
    assert body["id_claims"]["sub"] == alice.id
    assert "preferred_username" not in body["id_claims"]  # at UserInfo (OIDC Core §5.4)


@pytest.mark.parametrize(("username", "password"), [("alice", "wrong-password"),
                                                    ("nobody", PASSWORD), ("alice", "")])
def test_password_grant_wrong_credentials_are_invalid_grant(endpoint, external, alice,
                                                            username, password):
    response = endpoint.post({"grant_type": "password", "username": username,
                              "password": password}, "privx-external", external.client_secret)
    assert_json_error(response, 400, "invalid_grant")


@pytest.mark.parametrize("missing", ["username", "password"])
def test_password_grant_missing_field_is_invalid_request(endpoint, external, alice, missing):
    data = {"grant_type": "password", "username": "alice", "password": PASSWORD}
    del data[missing]
    assert_json_error(endpoint.post(data, "privx-external", external.client_secret),
                      400, "invalid_request")


def test_password_grant_needs_the_grant(endpoint, web, alice):
    response = endpoint.post({"grant_type": "password", "username": "alice",
                              "password": PASSWORD}, "web", web.client_secret)
    assert_json_error(response, 400, "unauthorized_client")


def test_password_grant_org_id_selects_an_organization(endpoint, external, alice, make_org):
    make_org("acme", members=[alice])
    globex = make_org("globex", members=[alice])
    body = endpoint.ok({"grant_type": "password", "username": "alice", "password": PASSWORD,
                        "orgId": globex.id}, "privx-external", external.client_secret)
    assert body["claims"]["org_id"] == globex.id


def test_password_grant_org_id_of_another_organization_is_invalid_request(
        endpoint, external, alice, make_org, make_user):
    initech = make_org("initech", members=[make_user("carol")])
    response = endpoint.post({"grant_type": "password", "username": "alice",
                              "password": PASSWORD, "orgId": initech.id},
                             "privx-external", external.client_secret)
    assert_json_error(response, 400, "invalid_request")


# -- client_credentials ------------------------------------------------------------


@pytest.fixture
def service(make_client, make_org):
    make_org("acme")
    return make_client("privx-service", grant_types=["client_credentials"], redirect_uris=[],
                       scope="api:read api:write", org="acme")


def test_client_credentials_token_is_about_the_client(endpoint, service):
    body = endpoint.ok({"grant_type": "client_credentials", "scope": "api:read"},
                       "privx-service", service.client_secret)
    assert body["claims"]["sub"] == "privx-service"
    assert body["claims"]["client_id"] == "privx-service"
    assert body["claims"]["org_id"]
    assert body["scope"] == "api:read"
    assert "refresh_token" not in body
    assert "id_token" not in body


def test_client_credentials_default_scope_is_the_clients(endpoint, service):
    body = endpoint.ok({"grant_type": "client_credentials"}, "privx-service",
                       service.client_secret)
    assert body["scope"] == "api:read api:write"


def test_client_credentials_with_its_own_org_id(endpoint, service, app):
    from idp.services import orgs
    with app.app_context():
        acme_id = orgs.find_org("acme").id
    body = endpoint.ok({"grant_type": "client_credentials", "orgId": acme_id},
                       "privx-service", service.client_secret)
    assert body["claims"]["org_id"] == acme_id


def test_client_credentials_with_another_org_id_is_invalid_request(endpoint, service, make_org):
    globex = make_org("globex")
    response = endpoint.post({"grant_type": "client_credentials", "orgId": globex.id},
                             "privx-service", service.client_secret)
    assert_json_error(response, 400, "invalid_request")


def test_client_credentials_scope_beyond_the_clients_is_invalid_scope(endpoint, service):
    response = endpoint.post({"grant_type": "client_credentials", "scope": "api:admin"},
                             "privx-service", service.client_secret)
    assert_json_error(response, 400, "invalid_scope")


def test_client_credentials_needs_the_grant(endpoint, web):
    response = endpoint.post({"grant_type": "client_credentials"}, "web", web.client_secret)
    assert_json_error(response, 400, "unauthorized_client")


def test_public_client_cannot_use_client_credentials(endpoint, make_client):
    make_client("spa", auth_method="none")
    response = endpoint.post({"grant_type": "client_credentials"}, "spa")
    assert_json_error(response, 401, "invalid_client")


# -- delegation: client_delegate and RFC 8693 token exchange ----------------------------


@pytest.fixture
def delegate(make_client):
    return make_client("delegate", grant_types=["client_delegate", EXCHANGE], redirect_uris=[],
                       scope="openid profile email")


@pytest.mark.parametrize("grant_type", ["client_delegate", EXCHANGE])
def test_delegation_issues_a_user_token_naming_the_actor(code_tokens, endpoint, delegate,
                                                         alice, grant_type):
    subject = code_tokens()
    body = endpoint.ok({"grant_type": grant_type, "subject_token": subject["access_token"],
                        "subject_token_type": ACCESS_TOKEN_TYPE, "scope": "openid email"},
                       "delegate", delegate.client_secret)
    assert body["issued_token_type"] == ACCESS_TOKEN_TYPE
    assert body["claims"]["sub"] == alice.id
    assert body["claims"]["client_id"] == "delegate"
    assert body["claims"]["aud"] == "delegate"
    assert body["claims"]["act"] == {"sub": "delegate"}
    assert body["claims"]["sid"] == subject["claims"]["sid"]
    assert body["scope"] == "openid email"
    assert "refresh_token" not in body


def test_delegation_default_scope_is_what_both_allow(code_tokens, endpoint, delegate):
    subject = code_tokens()  # openid profile email offline_access
    body = endpoint.ok({"grant_type": "client_delegate", "subject_token": subject["access_token"],
                        "subject_token_type": ACCESS_TOKEN_TYPE},
                       "delegate", delegate.client_secret)
    assert body["scope"] == "openid profile email"


def test_delegated_token_works_at_userinfo(code_tokens, endpoint, delegate, client, alice):
    subject = code_tokens()
    body = endpoint.ok({"grant_type": "client_delegate", "subject_token": subject["access_token"],
                        "subject_token_type": ACCESS_TOKEN_TYPE, "scope": "openid"},
                       "delegate", delegate.client_secret)
    info = client.get("/oauth/userinfo",
                      headers={"Authorization": f"Bearer {body['access_token']}"})
    assert info.get_json()["sub"] == alice.id


def test_delegating_a_delegated_token_nests_the_actors(code_tokens, endpoint, delegate,
                                                       make_client):
    second = make_client("second", grant_types=["client_delegate"], redirect_uris=[],
                         scope="openid")
    subject = code_tokens()
    once = endpoint.ok({"grant_type": "client_delegate", "subject_token": subject["access_token"],
                        "subject_token_type": ACCESS_TOKEN_TYPE, "scope": "openid"},
                       "delegate", delegate.client_secret)
    twice = endpoint.ok({"grant_type": "client_delegate", "subject_token": once["access_token"],
                         "subject_token_type": ACCESS_TOKEN_TYPE},
                        "second", second.client_secret)
    assert twice["claims"]["act"] == {"sub": "second", "act": {"sub": "delegate"}}


def test_delegation_scope_wider_than_the_subjects_is_invalid_scope(code_tokens, endpoint,
                                                                   delegate):
    subject = code_tokens(scope="openid")
    response = endpoint.post({"grant_type": "client_delegate",
                              "subject_token": subject["access_token"],
                              "subject_token_type": ACCESS_TOKEN_TYPE, "scope": "openid email"},
                             "delegate", delegate.client_secret)
    assert_json_error(response, 400, "invalid_scope")


def decode(token: str) -> dict:
    """A JWT's claims, unverified (the tests verify elsewhere; this only reads ``exp``)."""
    import base64
    import json

    payload = token.split(".")[1]
    return json.loads(base64.urlsafe_b64decode(payload + "=" * (-len(payload) % 4)))


def _tampered(token: str) -> str:
    head, payload, signature = token.split(".")
    return f"{head}.{payload}.{signature[:-4]}AAAA"


@pytest.mark.parametrize("kind", ["revoked", "expired", "tampered", "malformed", "client"])
def test_bad_subject_tokens_are_invalid_grant(code_tokens, endpoint, delegate, app, kind,
                                              make_client, monkeypatch, web):
    subject = code_tokens()["access_token"]
    if kind == "revoked":
        revoked = endpoint.http.post("/oauth/revoke", data={"token": subject},
                                     headers=basic("web", web.client_secret))
        assert revoked.status_code == 200
    elif kind == "expired":
        expiry = decode(subject)["exp"]
        monkeypatch.setattr("idp.oauth.bearer.now", lambda: expiry)  # the moment it expires
    elif kind == "tampered":
        subject = _tampered(subject)
    elif kind == "malformed":
        subject = "not-a-token"
    elif kind == "client":
        svc = make_client("svc", grant_types=["client_credentials"], redirect_uris=[],
                          scope="api")
        subject = endpoint.ok({"grant_type": "client_credentials"}, "svc",
                              svc.client_secret)["access_token"]
    response = endpoint.post({"grant_type": "client_delegate", "subject_token": subject,
                              "subject_token_type": ACCESS_TOKEN_TYPE},
                             "delegate", delegate.client_secret)
    assert_json_error(response, 400, "invalid_grant")


@pytest.mark.parametrize(("field", "value"), [
    ("subject_token", None),
    ("subject_token_type", None),
    ("subject_token_type", "urn:ietf:params:oauth:token-type:id_token"),
    ("requested_token_type", "urn:ietf:params:oauth:token-type:refresh_token"),
    ("actor_token", "something"),
])
def test_delegation_bad_parameters_are_invalid_request(code_tokens, endpoint, delegate,
                                                       field, value):
    data = {"grant_type": EXCHANGE, "subject_token": code_tokens()["access_token"],
            "subject_token_type": ACCESS_TOKEN_TYPE}
    if value is None:
        data.pop(field)
    else:
        data[field] = value
    assert_json_error(endpoint.post(data, "delegate", delegate.client_secret),
                      400, "invalid_request")


def test_delegation_needs_the_grant(code_tokens, endpoint, web):
    response = endpoint.post({"grant_type": "client_delegate",
                              "subject_token": code_tokens()["access_token"],
                              "subject_token_type": ACCESS_TOKEN_TYPE}, "web", web.client_secret)
    assert_json_error(response, 400, "unauthorized_client")


# -- per-request lifetimes (Webex) -------------------------------------------------------


@pytest.mark.parametrize(("requested", "expected"), [("60", 60), ("299", 299), ("301", 300),
                                                     ("0", 300), ("-1", 300), ("soon", 300)])
def test_access_token_validity_seconds_only_shortens(endpoint, service, requested, expected):
    body = endpoint.ok({"grant_type": "client_credentials",
                        "accessTokenValiditySeconds": requested},
                       "privx-service", service.client_secret)
    assert body["expires_in"] == expected
    assert body["claims"]["exp"] - body["claims"]["iat"] == expected


@pytest.mark.parametrize(("requested", "expected"), [("3600", 3600),
                                                     ("99999999", 30 * 24 * 3600)])
def test_refresh_token_validity_seconds_only_shortens(code_tokens, app, requested, expected):
    body = code_tokens(refreshTokenValiditySeconds=requested, accessTokenValiditySeconds="120")
    assert body["expires_in"] == 120
    assert body["claims"]["exp"] - body["claims"]["iat"] == 120
    with app.app_context():
        grant = db.session.get(Grant, body["claims"]["grant_id"])
        assert grant.refresh_expires_at - grant.created_at == expected
        assert grant.expires_at - grant.created_at == max(expected, 120)


def test_lifetimes_apply_on_refresh_too(code_tokens, endpoint, web):
    first = code_tokens()
    body = endpoint.ok({"grant_type": "refresh_token", "refresh_token": first["refresh_token"],
                        "accessTokenValiditySeconds": "30"}, "web", web.client_secret)
    assert body["expires_in"] == 30


def test_password_grant_bound_client_refuses_another_org_id(endpoint, make_client, make_org,
                                                            alice):
    make_org("acme", members=[alice])
    globex = make_org("globex", members=[alice])
    bound = make_client("bound", grant_types=["password"], redirect_uris=[], org="acme")
    response = endpoint.post({"grant_type": "password", "username": "alice",
                              "password": PASSWORD, "orgId": globex.id},
                             "bound", bound.client_secret)
    assert_json_error(response, 400, "invalid_request")
