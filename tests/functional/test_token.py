"""The token endpoint for authorization codes: client auth, PKCE, single use, tokens."""

from __future__ import annotations

import base64
import time

import pytest

from idp.extensions import db
from idp.models import AuthorizationCode, Grant, RevokedToken
from tests.conftest import ISSUER, PASSWORD, REDIRECT_URI
from tests.helpers import assert_json_error, at_hash, get_code, pkce_pair, verify_jwt


@pytest.fixture
def signed_in(oauth, alice, make_org):
    make_org("acme", members=[alice])
    assert oauth.login("alice", PASSWORD).status_code == 303
    return oauth


# -- success ----------------------------------------------------------------------


@pytest.mark.parametrize("method", ["basic", "post"])
def test_confidential_client_redeems_code(signed_in, web, alice, method, make_client):
    client_id, secret = "web", web.client_secret
    if method == "post":
        client_id = "web-post"
        secret = make_client(client_id, auth_method="client_secret_post").client_secret
    code = get_code(signed_in, nonce="n-123", scope="openid profile email org",
                    client_id=client_id)
    response = signed_in.exchange(code, client_id, secret, redirect_uri=REDIRECT_URI,
                                  method=method)
    assert response.status_code == 200, response.get_data(True)
    assert response.headers["Cache-Control"] == "no-store"
    body = response.get_json()
    assert body["token_type"] == "Bearer"
    assert body["expires_in"] == 300
    assert body["scope"] == "openid profile email org"
    assert len(body["refresh_token"]) >= 43

    jwks = signed_in.jwks()
    header, access = verify_jwt(body["access_token"], jwks, ["Ed25519"])
    assert header["typ"] == "at+jwt"
    assert header["kid"] in {k["kid"] for k in jwks["keys"]}
    assert access["iss"] == ISSUER
    assert access["sub"] == alice.id
    assert access["aud"] == client_id
    assert access["client_id"] == client_id
    assert access["scope"] == "openid profile email org"
    assert access["exp"] - access["iat"] == 300
    assert access["exp"] > time.time()
    assert access["jti"]
    assert access["org_id"]

    header, id_token = verify_jwt(body["id_token"], jwks, ["RS256"])
    assert header["alg"] == "RS256"
    assert id_token["iss"] == ISSUER
    assert id_token["aud"] == client_id
    assert id_token["sub"] == alice.id
    assert id_token["nonce"] == "n-123"
    assert id_token["sid"] == access["sid"]
    assert id_token["auth_time"] <= id_token["iat"]
    assert id_token["exp"] > time.time()
    assert id_token["amr"] == ["pwd"]
    assert id_token["org_slug"] == "acme"
    # An access token was issued: the profile and email claims are at UserInfo (§5.4).
    assert {"email", "name", "preferred_username"}.isdisjoint(id_token)
    assert id_token["at_hash"] == at_hash(body["access_token"], "RS256")


def test_public_client_redeems_code_with_pkce(signed_in, make_client, alice):
    make_client("spa", auth_method="none")
    verifier, challenge = pkce_pair()
    code = get_code(signed_in, client_id="spa", code_challenge=challenge,
                    code_challenge_method="S256")
    response = signed_in.exchange(code, "spa", redirect_uri=REDIRECT_URI, verifier=verifier)
    assert response.status_code == 200, response.get_data(True)
    _, access = verify_jwt(response.get_json()["access_token"], signed_in.jwks(), ["Ed25519"])
    assert access["sub"] == alice.id
    assert access["client_id"] == "spa"


def test_confidential_client_with_pkce_must_send_the_verifier(signed_in, web):
    verifier, challenge = pkce_pair()
    code = get_code(signed_in, code_challenge=challenge, code_challenge_method="S256")
    missing = signed_in.exchange(code, "web", web.client_secret, redirect_uri=REDIRECT_URI)
    assert_json_error(missing, 400, "invalid_request")
    ok = signed_in.exchange(code, "web", web.client_secret, redirect_uri=REDIRECT_URI,
                            verifier=verifier)
    assert ok.status_code == 200  # the failed attempt did not burn the code


def test_id_token_algorithms(signed_in, make_client):
    for alg in ("ES256", "Ed25519"):
        new = make_client(f"c-{alg.lower()}", id_token_alg=alg, skip_consent=True)
        code = get_code(signed_in, client_id=new.client.client_id)
        body = signed_in.exchange(code, new.client.client_id, new.client_secret,
                                  redirect_uri=REDIRECT_URI).get_json()
        header, claims = verify_jwt(body["id_token"], signed_in.jwks(), [alg])
        assert header["alg"] == alg
        assert claims["at_hash"] == at_hash(body["access_token"], alg)


def test_eddsa_access_tokens_for_clients_that_ask(signed_in, make_client):
    new = make_client("legacy", access_token_alg="EdDSA", skip_consent=True)
    code = get_code(signed_in, client_id="legacy")
    body = signed_in.exchange(code, "legacy", new.client_secret,
                              redirect_uri=REDIRECT_URI).get_json()
    import warnings

    from joserfc.errors import SecurityWarning
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", SecurityWarning)  # joserfc frowns on "EdDSA"
        header, claims = verify_jwt(body["access_token"], signed_in.jwks(), ["EdDSA"])
    assert header["alg"] == "EdDSA"
    assert claims["client_id"] == "legacy"


def test_no_refresh_token_without_the_refresh_grant(signed_in, make_client):
    new = make_client("no-refresh", grant_types=["authorization_code"], skip_consent=True)
    code = get_code(signed_in, client_id="no-refresh")
    body = signed_in.exchange(code, "no-refresh", new.client_secret,
                              redirect_uri=REDIRECT_URI).get_json()
    assert "access_token" in body
    assert "refresh_token" not in body


def test_no_id_token_without_openid(signed_in, web):
    code = get_code(signed_in, scope="profile")
    body = signed_in.exchange(code, "web", web.client_secret, redirect_uri=REDIRECT_URI).get_json()
    assert "access_token" in body
    assert "id_token" not in body


def test_a_redemption_records_its_grant_with_only_a_refresh_digest(signed_in, web, app):
    code = get_code(signed_in)
    body = signed_in.exchange(code, "web", web.client_secret, redirect_uri=REDIRECT_URI).get_json()
    _, access = verify_jwt(body["access_token"], signed_in.jwks(), ["Ed25519"])
    with app.app_context():
        [grant] = db.session.query(Grant).all()
        assert access["grant_id"] == grant.id
        assert grant.refresh_digest
        assert body["refresh_token"] not in grant.refresh_digest
        assert db.session.query(RevokedToken).count() == 0
        codes = db.session.query(AuthorizationCode).all()
        assert len(codes) == 1
        assert code not in codes[0].code_digest
        assert codes[0].used_at is not None


# -- single use -----------------------------------------------------------------


def test_code_reuse_is_invalid_grant_and_revokes_the_first_tokens(signed_in, web, client):
    code = get_code(signed_in)
    first = signed_in.exchange(code, "web", web.client_secret, redirect_uri=REDIRECT_URI)
    assert first.status_code == 200
    access_token = first.get_json()["access_token"]
    auth = {"Authorization": f"Bearer {access_token}"}
    assert client.get("/oauth/userinfo", headers=auth).status_code == 200

    second = signed_in.exchange(code, "web", web.client_secret, redirect_uri=REDIRECT_URI)
    assert_json_error(second, 400, "invalid_grant")
    assert client.get("/oauth/userinfo", headers=auth).status_code == 401


def test_expired_code_is_invalid_grant(signed_in, web, app):
    code = get_code(signed_in)
    with app.app_context():
        db.session.query(AuthorizationCode).update({"expires_at": int(time.time()) - 1})
        db.session.commit()
    response = signed_in.exchange(code, "web", web.client_secret, redirect_uri=REDIRECT_URI)
    assert_json_error(response, 400, "invalid_grant")


def test_code_is_bound_to_its_client(signed_in, web, make_client):
    other = make_client("other")
    code = get_code(signed_in)
    response = signed_in.exchange(code, "other", other.client_secret, redirect_uri=REDIRECT_URI)
    assert_json_error(response, 400, "invalid_grant")
    still_good = signed_in.exchange(code, "web", web.client_secret, redirect_uri=REDIRECT_URI)
    assert still_good.status_code == 200


def test_code_is_bound_to_its_redirect_uri(signed_in, make_client):
    new = make_client("two", redirect_uris=[REDIRECT_URI, "https://rp.example/other"])
    code = get_code(signed_in, client_id="two")
    response = signed_in.exchange(code, "two", new.client_secret,
                                  redirect_uri="https://rp.example/other")
    assert_json_error(response, 400, "invalid_grant")


@pytest.mark.parametrize("verifier", ["x" * 43, "short", None])
def test_wrong_or_missing_pkce_verifier_is_rejected(signed_in, make_client, verifier):
    make_client("spa", auth_method="none")
    _, challenge = pkce_pair()
    code = get_code(signed_in, client_id="spa", code_challenge=challenge,
                    code_challenge_method="S256")
    response = signed_in.exchange(code, "spa", redirect_uri=REDIRECT_URI, verifier=verifier)
    assert response.status_code == 400
    assert response.get_json()["error"] in {"invalid_grant", "invalid_request"}


def test_verifier_without_a_challenge_is_rejected(signed_in, web):
    verifier, _ = pkce_pair()
    code = get_code(signed_in)
    response = signed_in.exchange(code, "web", web.client_secret, redirect_uri=REDIRECT_URI,
                                  verifier=verifier)
    assert_json_error(response, 400, "invalid_request")


def test_missing_code_is_invalid_request(signed_in, web):
    response = signed_in.exchange("", "web", web.client_secret, redirect_uri=REDIRECT_URI)
    assert response.status_code == 400


# -- client authentication and grant errors ------------------------------------------


def test_wrong_secret_with_basic_is_401_with_www_authenticate(signed_in, web):
    code = get_code(signed_in)
    response = signed_in.exchange(code, "web", "wrong-secret-" + "x" * 30,
                                  redirect_uri=REDIRECT_URI)
    assert_json_error(response, 401, "invalid_client")
    assert response.headers["WWW-Authenticate"].startswith("Basic")


def test_wrong_secret_in_body_is_401(signed_in, web):
    code = get_code(signed_in)
    response = signed_in.exchange(code, "web", "wrong-secret-" + "x" * 30,
                                  redirect_uri=REDIRECT_URI, method="post")
    assert_json_error(response, 401, "invalid_client")
    assert "WWW-Authenticate" not in response.headers


def test_confidential_client_without_secret_is_401(signed_in, web):
    code = get_code(signed_in)
    response = signed_in.exchange(code, "web", redirect_uri=REDIRECT_URI)
    assert_json_error(response, 401, "invalid_client")


def test_unknown_client_is_401(client):
    raw = base64.b64encode(b"ghost:" + b"s" * 40).decode()
    response = client.post("/oauth/token", data={"grant_type": "authorization_code",
                                                 "code": "x", "redirect_uri": REDIRECT_URI},
                           headers={"Authorization": f"Basic {raw}"})
    assert_json_error(response, 401, "invalid_client")


def test_unknown_grant_type_is_unsupported_grant_type(client, web):
    response = client.post("/oauth/token", data={"grant_type": "magic"})
    assert_json_error(response, 400, "unsupported_grant_type")


def test_missing_grant_type_is_an_error(client, web):
    response = client.post("/oauth/token", data={})
    assert response.status_code == 400
    assert response.get_json()["error"] in {"invalid_request", "unsupported_grant_type"}


def test_client_without_the_code_grant_is_unauthorized_client(client, make_client):
    new = make_client("svc", grant_types=["client_credentials"], redirect_uris=[])
    raw = base64.b64encode(f"svc:{new.client_secret}".encode()).decode()
    response = client.post("/oauth/token", data={"grant_type": "authorization_code",
                                                 "code": "x", "redirect_uri": REDIRECT_URI},
                           headers={"Authorization": f"Basic {raw}"})
    assert_json_error(response, 400, "unauthorized_client")


def test_token_endpoint_refuses_get(client):
    response = client.get("/oauth/token")
    assert response.status_code == 405
    assert response.get_json()["error"] == "invalid_request"


def test_disabled_user_cannot_redeem_a_code(signed_in, web, app, alice):
    code = get_code(signed_in)
    with app.app_context():
        from idp.models import User
        db.session.get(User, alice.id).disabled = True
        db.session.commit()
    response = signed_in.exchange(code, "web", web.client_secret, redirect_uri=REDIRECT_URI)
    assert_json_error(response, 400, "invalid_grant")
