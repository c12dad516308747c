"""APIs as resource servers: resource indicators (RFC 8707), audiences (RFC 9068 §3),
introspection by the API (RFC 7662 §2.1), algorithms, roles and the PrivX profile.

Access tokens for an API are checked with PyJWT, a JOSE library the provider does not
sign with, as an API in front of it would."""

from __future__ import annotations

import json

import jwt as pyjwt
import pytest

from idp.extensions import db
from idp.services import apis as api_service
from idp.services import orgs
from tests.conftest import PASSWORD, REDIRECT_URI
from tests.helpers import assert_json_error, basic, get_code, location_params, verify_jwt

A = "https://api-a.example/"
B = "urn:example:api-b"


@pytest.fixture
def apis(app):
    """Two APIs: A (RS256, two scopes with words), B (Ed25519, 60-second tokens)."""
    with app.app_context():
        a = api_service.create_api(A, "Invoices", "read:a write:a",
                                   descriptions={"read:a": "See your invoices"})
        b = api_service.create_api(B, "Reports", "read:b", access_token_alg="Ed25519",
                                   access_token_ttl=60)
        db.session.commit()
        return {"a": (a.api.client_id, a.client_secret), "b": (b.api.client_id, b.client_secret)}


@pytest.fixture
def signed_in(oauth, alice):
    assert oauth.login("alice", PASSWORD).status_code == 303
    return oauth


def pyjwt_verified(token: str, jwks: dict, audience: str) -> dict:
    """What an API checking the JWT itself does, with PyJWT."""
    header = pyjwt.get_unverified_header(token)
    key = pyjwt.PyJWKSet.from_dict(jwks)[header["kid"]].key
    return pyjwt.decode(token, key, algorithms=["RS256", "ES256", "EdDSA"], audience=audience,
                        issuer="http://localhost", options={"require": ["exp", "iat", "aud"]})


def redeem(endpoint, code: str, web, **extra) -> dict:
    response = endpoint.post({"grant_type": "authorization_code", "code": code,
                              "redirect_uri": REDIRECT_URI, **extra}, "web", web.client_secret)
    assert response.status_code == 200, response.get_data(True)
    return response.get_json()


def introspect(client, token: str, credentials: tuple[str, str]) -> dict:
    response = client.post("/oauth/introspect", data={"token": token},
                           headers=basic(*credentials))
    assert response.status_code == 200, response.get_data(True)
    return response.get_json()


# -- resource indicators -----------------------------------------------------------------


def test_a_token_for_an_api_has_its_audience_algorithm_and_scopes(signed_in, endpoint, web,
                                                                  apis, client):
    code = get_code(signed_in, scope="openid read:a", resource=A)
    body = redeem(endpoint, code, web)
    jwks = client.get("/.well-known/jwks.json").get_json()
    claims = pyjwt_verified(body["access_token"], jwks, A)
    assert pyjwt.get_unverified_header(body["access_token"])["alg"] == "RS256"
    assert pyjwt.get_unverified_header(body["access_token"])["typ"] == "at+jwt"
    assert claims["aud"] == A
    assert claims["scope"] == body["scope"] == "openid read:a"
    assert claims["client_id"] == "web"


def test_the_consent_page_shows_the_apis_scopes_in_its_words(signed_in, apis, web):
    from tests.helpers import authorize_params
    response = signed_in.authorize(**authorize_params(scope="openid read:a write:a",
                                                      resource=A))
    page = signed_in.http.get(response.headers["Location"]).get_data(True)
    assert "See your invoices" in page
    assert "Invoices" in page  # write:a has no words: named with its API


def test_an_api_token_lives_no_longer_than_the_api_says(signed_in, endpoint, web, apis):
    body = redeem(endpoint, get_code(signed_in, scope="openid read:b", resource=B), web)
    assert body["expires_in"] == 60
    _, claims = verify_jwt(body["access_token"], signed_in.jwks(), "Ed25519", aud=B)
    assert claims["exp"] - claims["iat"] == 60


@pytest.mark.parametrize("resource", ["https://unknown.example/", "https://api-a.example/#x",
                                      "relative/path", "https://api-a.example/?q=1"])
def test_an_unknown_or_malformed_resource_is_invalid_target(signed_in, apis, web, resource):
    from tests.helpers import authorize_params
    got = location_params(signed_in.authorize(**authorize_params(resource=resource)))
    assert got["error"] == "invalid_target"
    assert got["state"] == "xyz"
    assert "code" not in got


def test_a_client_limited_to_some_apis_cannot_ask_for_another(signed_in, apis, make_client):
    make_client("limited", apis=[B], skip_consent=True)
    from tests.helpers import authorize_params
    got = location_params(signed_in.authorize(**authorize_params(client_id="limited",
                                                                 resource=A)))
    assert got["error"] == "invalid_target"


def test_without_resource_the_default_api_applies(signed_in, endpoint, apis, make_client):
    new = make_client("defaulted", default_api=B, skip_consent=True)
    code = get_code(signed_in, client_id="defaulted", scope="openid read:b")
    body = endpoint.ok({"grant_type": "authorization_code", "code": code,
                        "redirect_uri": REDIRECT_URI}, "defaulted", new.client_secret)
    assert body["claims"]["aud"] == B
    assert body["scope"] == "openid read:b"


def test_without_resource_or_default_the_audience_is_the_client(signed_in, endpoint, web,
                                                                apis):
    body = redeem(endpoint, get_code(signed_in, scope="openid read:a"), web)
    _, claims = verify_jwt(body["access_token"], signed_in.jwks(), "Ed25519", aud="web")
    assert claims["scope"] == "openid"  # an API's scope goes only to that API's tokens


def test_several_granted_apis_need_one_named_at_the_token_endpoint(signed_in, endpoint, web,
                                                                   apis, client):
    from tests.helpers import authorize_params
    response = signed_in.authorize(**authorize_params(scope="openid read:a read:b",
                                                      resource=[A, B]))
    code = location_params(signed_in.approve(response))["code"]
    unnamed = endpoint.post({"grant_type": "authorization_code", "code": code,
                             "redirect_uri": REDIRECT_URI}, "web", web.client_secret)
    assert_json_error(unnamed, 400, "invalid_target")
    code = get_code(signed_in, scope="openid read:a read:b", resource=[A, B])
    body = redeem(endpoint, code, web, resource=A)
    jwks = client.get("/.well-known/jwks.json").get_json()
    assert pyjwt_verified(body["access_token"], jwks, A)["scope"] == "openid read:a"
    # Refresh may narrow to another granted API, never widen to one not granted.
    other = endpoint.ok({"grant_type": "refresh_token", "refresh_token": body["refresh_token"],
                         "resource": B}, "web", web.client_secret)
    assert other["claims"]["aud"] == B
    assert other["scope"] == "openid read:b"


def test_a_refresh_never_widens_the_resources(signed_in, endpoint, web, apis):
    body = redeem(endpoint, get_code(signed_in, scope="openid read:a", resource=A), web)
    response = endpoint.post({"grant_type": "refresh_token",
                              "refresh_token": body["refresh_token"], "resource": B},
                             "web", web.client_secret)
    assert_json_error(response, 400, "invalid_target")


def test_client_credentials_asks_for_an_api_with_resource(endpoint, make_client, apis, client):
    svc = make_client("svc", grant_types=["client_credentials"], redirect_uris=[],
                      scope="read:a")
    response = endpoint.post({"grant_type": "client_credentials", "resource": A}, "svc",
                             svc.client_secret)
    assert response.status_code == 200, response.get_data(True)
    body = response.get_json()
    jwks = client.get("/.well-known/jwks.json").get_json()
    claims = pyjwt_verified(body["access_token"], jwks, A)
    assert claims["sub"] == "svc"
    assert claims["scope"] == "read:a"


# -- introspection by the API ------------------------------------------------------------


def test_an_api_introspects_the_tokens_sent_to_it_and_nothing_else(signed_in, endpoint, web,
                                                                   apis, client):
    for_a = redeem(endpoint, get_code(signed_in, scope="openid read:a", resource=A), web)
    for_b = redeem(endpoint, get_code(signed_in, scope="openid read:b", resource=B), web)
    for_client = redeem(endpoint, get_code(signed_in, scope="openid"), web)
    answer = introspect(client, for_a["access_token"], apis["a"])
    assert answer["active"] is True
    assert answer["aud"] == A
    assert answer["scope"] == "openid read:a"
    assert answer["username"] == "alice"
    for token in (for_b["access_token"], for_client["access_token"], for_a["refresh_token"]):
        assert introspect(client, token, apis["a"]) == {"active": False}  # RFC 7662 §4
    # The client keeps seeing its own tokens, whatever their audience.
    assert introspect(client, for_a["access_token"], ("web", web.client_secret))["active"]


def test_a_revoked_token_is_inactive_for_the_api_too(signed_in, endpoint, web, apis, client):
    body = redeem(endpoint, get_code(signed_in, scope="openid read:a", resource=A), web)
    assert client.post("/oauth/revoke", data={"token": body["access_token"]},
                       headers=basic("web", web.client_secret)).status_code == 200
    assert introspect(client, body["access_token"], apis["a"]) == {"active": False}


@pytest.mark.parametrize("path", ["/oauth/token", "/oauth/revoke"])
def test_an_apis_credentials_only_introspect(client, apis, path):
    response = client.post(path, data={"grant_type": "client_credentials", "token": "x"},
                           headers=basic(*apis["a"]))
    assert_json_error(response, 401, "invalid_client")


def test_a_wrong_api_secret_is_invalid_client(client, apis):
    response = client.post("/oauth/introspect", data={"token": "x"},
                           headers=basic(apis["a"][0], "not-the-secret"))
    assert_json_error(response, 401, "invalid_client")


# -- algorithms --------------------------------------------------------------------------


@pytest.mark.parametrize("alg", ["RS256", "ES256", "Ed25519", "EdDSA"])
def test_every_access_token_algorithm_is_available_per_client(signed_in, endpoint,
                                                              make_client, alg, client):
    new = make_client(f"c-{alg.lower()}", access_token_alg=alg, skip_consent=True)
    code = get_code(signed_in, client_id=new.client.client_id)
    response = endpoint.post({"grant_type": "authorization_code", "code": code,
                              "redirect_uri": REDIRECT_URI}, new.client.client_id,
                             new.client_secret)
    token = response.get_json()["access_token"]
    assert pyjwt.get_unverified_header(token)["alg"] == alg
    jwks = client.get("/.well-known/jwks.json").get_json()
    if alg != "EdDSA":  # PyJWT reads "EdDSA" and not RFC 9864's "Ed25519" for the same key
        import warnings
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            verify_jwt(token, jwks, alg, aud=new.client.client_id)
    if alg in ("RS256", "ES256", "EdDSA"):
        pyjwt_verified(token, jwks, new.client.client_id)


def test_discovery_lists_every_access_token_algorithm(client):
    document = client.get("/.well-known/openid-configuration").get_json()
    assert set(document["access_token_signing_alg_values_supported"]) == {
        "RS256", "ES256", "Ed25519", "EdDSA"}
    assert "RS256" in document["id_token_signing_alg_values_supported"]
    assert document["resource_indicators_supported"] is True


# -- roles and the PrivX token -------------------------------------------------------------


@pytest.fixture
def roles(app, apis, alice, make_org):
    make_org("acme", members=[alice])
    with app.app_context():
        acme = orgs.find_org("acme")
        group = orgs.create_group(acme, "ops")
        db.session.flush()
        orgs.add_group_member(group, db.session.merge(alice))
        admin = api_service.create_role("privx-admin", ["privx-admin"], api=A)
        user = api_service.create_role("privx-user", ["privx-user"])  # every API
        api_service.create_role("elsewhere", ["other"], api=B)
        db.session.flush()
        api_service.assign_role(admin, group_id=group.id)
        api_service.assign_role(user, user=db.session.merge(alice))
        db.session.commit()


def test_the_privx_profile_carries_domain_permissions_session_and_user(
        signed_in, endpoint, make_client, roles, alice, client):
    new = make_client("privx-ui", token_profile="privx", default_api=A, skip_consent=True,
                      scope="openid")
    code = get_code(signed_in, client_id="privx-ui", scope="openid")
    body = endpoint.ok({"grant_type": "authorization_code", "code": code,
                        "redirect_uri": REDIRECT_URI}, "privx-ui", new.client_secret)
    claims = pyjwt_verified(body["access_token"],
                            client.get("/.well-known/jwks.json").get_json(), A)
    assert claims["domain"] == "privx-ui"
    assert claims["permissions"] == "privx-admin,privx-user"  # A's and every API's, not B's
    assert claims["userid"] == alice.id
    assert claims["sessionid"] == claims["sid"]


def test_the_privx_profile_says_no_permissions_with_an_empty_string(signed_in, endpoint,
                                                                    make_client):
    new = make_client("privx-bare", token_profile="privx", skip_consent=True, scope="openid")
    code = get_code(signed_in, client_id="privx-bare", scope="openid")
    body = endpoint.ok({"grant_type": "authorization_code", "code": code,
                        "redirect_uri": REDIRECT_URI}, "privx-bare", new.client_secret)
    assert body["claims"]["permissions"] == ""
    assert body["claims"]["domain"] == "privx-bare"


def test_an_rfc9068_token_carries_roles_only_when_a_scope_asks(signed_in, endpoint, web,
                                                               roles, make_client):
    plain = redeem(endpoint, get_code(signed_in, scope="openid read:a", resource=A), web)
    _, claims = verify_jwt(plain["access_token"], signed_in.jwks(), "RS256")
    assert "roles" not in claims
    assert "permissions" not in claims
    new = make_client("roles-app", scope="openid roles", skip_consent=True)
    code = get_code(signed_in, client_id="roles-app", scope="openid roles", resource=A)
    body = endpoint.ok({"grant_type": "authorization_code", "code": code,
                        "redirect_uri": REDIRECT_URI}, "roles-app", new.client_secret)
    _, claims = verify_jwt(body["access_token"], signed_in.jwks(), "RS256")
    assert claims["roles"] == ["privx-admin", "privx-user"]
    assert claims["permissions"] == ["privx-admin", "privx-user"]


# -- the command line ------------------------------------------------------------------------


def test_apis_create_prints_its_introspection_credentials_once(runner, app):
    result = runner.invoke(args=["idp", "apis", "create", "https://api.example/", "--name",
                                 "Orders", "--scope", "read:o write:o", "--describe",
                                 "read:o=See your orders", "--access-token-alg", "RS256",
                                 "--json"])
    assert result.exit_code == 0, result.output
    made = json.loads(result.output)
    assert made["identifier"] == "https://api.example/"
    assert made["client_id"].startswith("api-")
    assert len(made["client_secret"]) >= 43
    listed = json.loads(runner.invoke(args=["idp", "apis", "list", "--json"]).output)
    [api] = listed["apis"]
    assert api["scopes"] == [{"name": "read:o", "description": "See your orders"},
                             {"name": "write:o", "description": None}]
    assert "client_secret" not in json.dumps(listed)


@pytest.mark.parametrize(("args", "message"), [
    (["not a uri"], "must be a single URI"),
    (["https://a.example/#x"], "fragment"),
    (["https://a.example/", "--scope", "openid"], "provider's own"),
    (["https://a.example/", "--describe", "x=y"], "scopes the API does not have"),
])
def test_apis_create_refuses_bad_input_clearly(runner, args, message):
    result = runner.invoke(args=["idp", "apis", "create", *args[:1], "--name", "X", *args[1:]])
    assert result.exit_code != 0
    assert message in result.output


def test_roles_are_created_and_assigned_from_the_command_line(runner, app, alice, apis):
    assert runner.invoke(args=["idp", "roles", "create", "auditor", "--api", A,
                               "--permission", "audit:read"]).exit_code == 0
    assigned = runner.invoke(args=["idp", "roles", "assign", "auditor", "--api", A,
                                   "--user", "alice"])
    assert assigned.exit_code == 0, assigned.output
    with app.app_context():
        api = api_service.require_api(A)
        assert api_service.permissions_of(alice.id, api) == ["audit:read"]
    listed = json.loads(runner.invoke(args=["idp", "roles", "list", "--json"]).output)
    assert listed["roles"] == [{"name": "auditor", "api": A, "permissions": ["audit:read"]}]


def test_a_client_cannot_be_limited_to_an_unknown_api(runner):
    result = runner.invoke(args=["idp", "clients", "create", "--name", "X", "--redirect-uri",
                                 REDIRECT_URI, "--api", "https://nowhere.example/"])
    assert result.exit_code != 0
    assert "no API" in result.output
