"""Clerk (seeds/clerk-oauth2-idp.txt): /oauth/authorize, /oauth/token, /oauth/userinfo.

GET and POST /oauth/authorize (302 for GET, 303 answering a POSTed form, 200
for ``response_mode=form_post``); 400, 401 and 403 (a satellite host: any Host
but the IdP's); the token response's ``access_token, expires_in,
refresh_token, scope, token_type``; the UserInfo object (``"object":
"oauth_user_info"``, ``instance_id``, ``user_id``, names, email, picture and
the three metadata fields, ``private_metadata`` only with its scope) on GET
and POST; 401 without a valid token.
"""

from __future__ import annotations

import time
from urllib.parse import urlsplit

import pytest

from idp.extensions import db
from idp.models import AuthorizationCode, Grant, User
from tests.helpers import (
    ISSUER,
    PASSWORD,
    REDIRECT_URI,
    basic,
    form_post_params,
    location_params,
    verify_jwt,
)

SATELLITE = "satellite.example.com"
CLERK_SCOPE = "openid profile email public_metadata private_metadata offline_access"
PICTURE = "https://img.example/avatars/alice.png"
PUBLIC = {"plan": "pro", "seats": 3}
PRIVATE = {"stripe_customer": "cus_123", "internal": {"tier": 7}}
UNSAFE = {"theme": "dark", "tags": ["a", "b"]}
# Every field of the seed's UserInfo sample.
USERINFO_FIELDS = ("object", "instance_id", "user_id", "email", "email_verified", "family_name",
                   "given_name", "name", "username", "preferred_username", "picture",
                   "public_metadata", "private_metadata", "unsafe_metadata")


@pytest.fixture
def clerk(make_client, alice, app):
    """A Clerk-style application and a user with a picture and all three metadata."""
    with app.app_context():
        user = db.session.get(User, alice.id)
        user.picture = PICTURE
        user.public_metadata = PUBLIC
        user.private_metadata = PRIVATE
        user.unsafe_metadata = UNSAFE
        db.session.commit()
    return make_client("clerk-app", scope=CLERK_SCOPE, skip_consent=True).client_secret


@pytest.fixture
def signed_in(oauth, alice):
    assert oauth.login("alice", PASSWORD).status_code == 303
    return oauth


def authorize_params(**overrides) -> dict[str, str]:
    base = {"response_type": "code", "client_id": "clerk-app", "redirect_uri": REDIRECT_URI,
            "scope": "openid profile email", "state": "clerk-state"}
    base.update(overrides)
    return {k: v for k, v in base.items() if v is not None}


def send_authorize(http, method: str, headers=None, **params):
    if method == "POST":
        return http.post("/oauth/authorize", data=params, headers=headers or {})
    return http.get("/oauth/authorize", query_string=params, headers=headers or {})


def assert_redirect_to_client(response, status: int) -> dict[str, str]:
    """A redirect with no body to the registered redirect URI, carrying code, state, iss."""
    assert response.status_code == status, response.get_data(True)
    assert response.get_data() == b""
    location = urlsplit(response.headers["Location"])
    assert f"{location.scheme}://{location.netloc}{location.path}" == REDIRECT_URI
    got = location_params(response)
    assert set(got) == {"code", "state", "iss"}
    assert got["state"] == "clerk-state"
    assert got["iss"] == ISSUER
    return got


def exchange(http, secret: str, code: str, **extra):
    return http.post("/oauth/token", headers=basic("clerk-app", secret), data={
        "grant_type": "authorization_code", "code": code, "redirect_uri": REDIRECT_URI,
        **extra})


def assert_clerk_token(http, response, scope: str, client_id: str = "clerk-app",
                       ) -> tuple[dict, dict]:
    """The seed's token response; the access token verified against the JWKS."""
    assert response.status_code == 200, response.get_data(True)
    assert response.mimetype == "application/json"
    assert response.headers["Cache-Control"] == "no-store"
    body = response.get_json()
    for field, kind in (("access_token", str), ("expires_in", int), ("refresh_token", str),
                        ("scope", str), ("token_type", str)):
        assert type(body[field]) is kind, (field, body)
    assert body["token_type"].lower() == "bearer"
    assert body["expires_in"] == 300
    assert set(body["scope"].split()) == set(scope.split())
    jwks = http.get("/.well-known/jwks.json").get_json()
    header, claims = verify_jwt(body["access_token"], jwks, ["Ed25519"])
    assert header["typ"] == "at+jwt"
    assert claims["iss"] == ISSUER
    assert claims["aud"] == client_id
    assert claims["scope"] == body["scope"]
    assert claims["exp"] - claims["iat"] == body["expires_in"]
    assert claims["exp"] > time.time()
    if "id_token" in body:
        _, id_claims = verify_jwt(body["id_token"], jwks, ["RS256"])
        assert id_claims["sub"] == claims["sub"]
        assert id_claims["aud"] == client_id
    return body, claims


def assert_json_body_error(response, status: int, error: str) -> dict:
    assert response.status_code == status, response.get_data(True)
    assert "Location" not in response.headers
    assert response.mimetype == "application/json"
    body = response.get_json()
    assert body["error"] == error
    assert isinstance(body["error_description"], str)
    assert body["error_description"]
    return body


# -- /oauth/authorize --------------------------------------------------------------------


def test_get_authorize_answers_302_and_the_code_redeems(signed_in, client, clerk, alice):
    got = assert_redirect_to_client(send_authorize(client, "GET", **authorize_params()), 302)
    _, claims = assert_clerk_token(client, exchange(client, clerk, got["code"]),
                                   "openid profile email")
    assert claims["sub"] == alice.id


def test_post_authorize_answers_the_posted_form_with_303(signed_in, client, clerk, alice):
    got = assert_redirect_to_client(send_authorize(client, "POST", **authorize_params()), 303)
    _, claims = assert_clerk_token(client, exchange(client, clerk, got["code"]),
                                   "openid profile email")
    assert claims["sub"] == alice.id


@pytest.mark.parametrize("method", ["GET", "POST"])
def test_authorize_not_signed_in_redirects_to_the_login_page(client, clerk, method):
    response = send_authorize(client, method, **authorize_params())
    assert response.status_code == (303 if method == "POST" else 302)
    assert urlsplit(response.headers["Location"]).path == "/login"


@pytest.mark.parametrize("method", ["GET", "POST"])
def test_authorize_form_post_response_mode_answers_200_with_an_auto_posting_form(
        signed_in, client, clerk, method):
    response = send_authorize(client, method, **authorize_params(response_mode="form_post"))
    assert response.status_code == 200
    assert response.mimetype == "text/html"
    assert response.headers["Cache-Control"] == "no-store"
    assert "Location" not in response.headers
    action, form_method, fields = form_post_params(response.get_data(True))
    assert (action, form_method.lower()) == (REDIRECT_URI, "post")
    assert set(fields) == {"code", "state", "iss"}
    assert fields["state"] == "clerk-state"
    assert fields["iss"] == ISSUER
    body, _ = assert_clerk_token(client, exchange(client, clerk, fields["code"]),
                                 "openid profile email")
    assert body["refresh_token"]


@pytest.mark.parametrize("method", ["GET", "POST"])
@pytest.mark.parametrize("client_id", ["clerk-unknown", "", None],
                         ids=["unknown", "empty", "missing"])
def test_authorize_invalid_client_is_401_never_a_redirect(client, clerk, method, client_id):
    params = authorize_params(client_id=client_id)
    page = send_authorize(client, method, **params)
    assert page.status_code == 401
    assert "Location" not in page.headers
    as_json = send_authorize(client, method, headers={"Accept": "application/json"}, **params)
    assert_json_body_error(as_json, 401, "invalid_client")


@pytest.mark.parametrize("method", ["GET", "POST"])
@pytest.mark.parametrize("redirect_uri", ["https://evil.example/callback",
                                          REDIRECT_URI + "/extra", "not a url",
                                          "/oauth-callback"],
                         ids=["foreign", "extended", "garbage", "relative"])
def test_authorize_invalid_redirect_uri_is_400_never_a_redirect(client, clerk, method,
                                                                redirect_uri):
    params = authorize_params(redirect_uri=redirect_uri)
    page = send_authorize(client, method, **params)
    assert page.status_code == 400
    assert "Location" not in page.headers
    as_json = send_authorize(client, method, headers={"Accept": "application/json"}, **params)
    assert_json_body_error(as_json, 400, "invalid_request")


def test_authorize_for_an_organization_the_user_is_not_in_is_403(signed_in, client,
                                                                 make_client, make_org):
    make_org("initech")
    make_client("initech-app", org="initech", skip_consent=True)
    params = authorize_params(client_id="initech-app")
    response = send_authorize(client, "GET", headers={"Accept": "application/json"}, **params)
    assert_json_body_error(response, 403, "access_denied")


# -- satellite hosts: 403 --------------------------------------------------------------------


@pytest.mark.parametrize("host", [SATELLITE, "clerk.satellite.example.com",
                                  "localhost.satellite.example.com", "evil.example:80"])
@pytest.mark.parametrize(("method", "path"), [
    ("GET", "/oauth/authorize"), ("POST", "/oauth/authorize"), ("POST", "/oauth/token"),
    ("GET", "/oauth/userinfo"), ("POST", "/oauth/userinfo"),
])
def test_satellite_host_is_403_access_denied(signed_in, client, clerk, app, method, path,
                                             host):
    # A request that would succeed on the IdP's own host: a signed-in browser, a
    # valid code with the client's credentials, a valid access token.
    got = location_params(send_authorize(client, "GET", **authorize_params()))
    token = assert_clerk_token(client, exchange(client, clerk, got["code"]),
                               "openid profile email")[0]["access_token"]
    code = location_params(send_authorize(client, "GET", **authorize_params()))["code"]
    headers = {"Host": host}
    if path == "/oauth/authorize":
        response = send_authorize(client, method, headers=headers, **authorize_params())
    elif path == "/oauth/token":
        response = client.post(path, headers={**headers, **basic("clerk-app", clerk)}, data={
            "grant_type": "authorization_code", "code": code, "redirect_uri": REDIRECT_URI})
    else:
        headers["Authorization"] = f"Bearer {token}"
        response = client.open(path, method=method, headers=headers)
    assert_json_body_error(response, 403, "access_denied")
    with app.app_context():
        assert db.session.query(Grant).count() == 1  # nothing issued on the satellite
        assert db.session.query(AuthorizationCode).filter(
            AuthorizationCode.used_at.is_(None)).count() == 1
    # The same code still works on the IdP's own host.
    assert_clerk_token(client, exchange(client, clerk, code), "openid profile email")


def test_the_idps_own_host_is_served(client, clerk):
    response = client.get("/oauth/authorize", query_string=authorize_params(),
                          headers={"Host": urlsplit(ISSUER).netloc})
    assert response.status_code == 302


# -- /oauth/token ---------------------------------------------------------------------------


@pytest.mark.parametrize("method", ["basic", "post"])
def test_token_response_has_every_documented_field(signed_in, client, clerk, alice, method,
                                                   make_client):
    client_id, secret = "clerk-app", clerk
    if method == "post":  # a client registered for client_secret_post (RFC 7591 §2)
        client_id = "clerk-post"
        secret = make_client(client_id, scope=CLERK_SCOPE, auth_method="client_secret_post",
                             skip_consent=True).client_secret
    got = location_params(send_authorize(client, "GET", **authorize_params(
        scope=CLERK_SCOPE, client_id=client_id)))
    data = {"grant_type": "authorization_code", "code": got["code"],
            "redirect_uri": REDIRECT_URI}
    if method == "basic":
        response = client.post("/oauth/token", data=data, headers=basic(client_id, secret))
    else:
        response = client.post("/oauth/token", data={**data, "client_id": client_id,
                                                      "client_secret": secret})
    body, claims = assert_clerk_token(client, response, CLERK_SCOPE, client_id)
    assert claims["sub"] == alice.id
    assert len(body["refresh_token"]) >= 43


@pytest.mark.parametrize("case", ["unknown code", "missing code", "wrong redirect_uri",
                                  "unknown grant_type"])
def test_token_bad_request_is_400(signed_in, client, clerk, case):
    got = location_params(send_authorize(client, "GET", **authorize_params()))
    data = {"grant_type": "authorization_code", "code": got["code"],
            "redirect_uri": REDIRECT_URI}
    error = "invalid_grant"
    if case == "unknown code":
        data["code"] = "c" * 43
    elif case == "missing code":
        del data["code"]
        error = "invalid_request"
    elif case == "wrong redirect_uri":
        data["redirect_uri"] = "https://rp.example/other"
    else:
        data["grant_type"] = "urn:example:magic"
        error = "unsupported_grant_type"
    response = client.post("/oauth/token", data=data, headers=basic("clerk-app", clerk))
    assert_json_body_error(response, 400, error)


@pytest.mark.parametrize("case", ["wrong secret", "unknown client", "no credentials"])
def test_token_invalid_client_is_401(signed_in, client, clerk, case):
    got = location_params(send_authorize(client, "GET", **authorize_params()))
    data = {"grant_type": "authorization_code", "code": got["code"],
            "redirect_uri": REDIRECT_URI}
    headers = {"wrong secret": basic("clerk-app", "s" * 43),
               "unknown client": basic("clerk-unknown", clerk),
               "no credentials": {}}[case]
    if case == "no credentials":
        data["client_id"] = "clerk-app"
    response = client.post("/oauth/token", data=data, headers=headers)
    assert_json_body_error(response, 401, "invalid_client")


# -- /oauth/userinfo ------------------------------------------------------------------------


@pytest.fixture
def access_token(signed_in, client, clerk):
    def issue(scope: str = CLERK_SCOPE) -> str:
        got = location_params(send_authorize(client, "GET", **authorize_params(scope=scope)))
        body, _ = assert_clerk_token(client, exchange(client, clerk, got["code"]), scope)
        return body["access_token"]

    return issue


def userinfo(http, how: str, token: str):
    if how == "GET header":
        return http.get("/oauth/userinfo", headers={"Authorization": f"Bearer {token}"})
    if how == "POST header":
        return http.post("/oauth/userinfo", headers={"Authorization": f"Bearer {token}"})
    return http.post("/oauth/userinfo", data={"access_token": token})


@pytest.mark.parametrize("how", ["GET header", "POST header", "POST body"])
def test_userinfo_returns_every_documented_field(client, access_token, alice, how):
    response = userinfo(client, how, access_token())
    assert response.status_code == 200, response.get_data(True)
    assert response.mimetype == "application/json"
    assert response.headers["Cache-Control"] == "no-store"
    body = response.get_json()
    assert set(USERINFO_FIELDS) <= set(body)
    assert body["object"] == "oauth_user_info"
    assert isinstance(body["instance_id"], str)
    assert body["instance_id"]
    assert body["user_id"] == alice.id
    assert body["sub"] == alice.id
    assert body["email"] == "alice@example.com"
    assert body["email_verified"] is True
    assert body["family_name"] == "Anders"
    assert body["given_name"] == "Alice"
    assert body["name"] == "Alice Anders"
    assert body["username"] == "alice"
    assert body["preferred_username"] == "alice"
    assert body["picture"] == PICTURE
    assert body["public_metadata"] == PUBLIC
    assert body["private_metadata"] == PRIVATE
    assert body["unsafe_metadata"] == UNSAFE


def test_userinfo_instance_id_is_stable(client, access_token):
    first = userinfo(client, "GET header", access_token()).get_json()["instance_id"]
    second = userinfo(client, "POST body", access_token("openid")).get_json()["instance_id"]
    assert first == second


def test_userinfo_with_profile_email_and_public_metadata_is_clerks_whole_shape(
        client, access_token, alice):
    body = userinfo(client, "GET header", access_token(
        "openid profile email public_metadata")).get_json()
    assert "private_metadata" not in body
    assert set(USERINFO_FIELDS) - {"private_metadata"} <= set(body)
    assert body["object"] == "oauth_user_info"
    assert body["user_id"] == alice.id
    assert body["public_metadata"] == PUBLIC
    assert body["unsafe_metadata"] == UNSAFE


@pytest.mark.parametrize(("scope", "released"), [
    ("openid", set()),
    ("openid profile", {"username", "family_name", "given_name", "name", "preferred_username",
                        "picture", "unsafe_metadata", "updated_at"}),
    ("openid email", {"email", "email_verified"}),
    ("openid public_metadata", {"public_metadata"}),
    ("openid private_metadata", {"private_metadata"}),
], ids=["openid", "profile", "email", "public", "private"])
def test_userinfo_releases_claims_by_scope(client, access_token, alice, scope, released):
    """OIDC Core §5.4: sub and Clerk's object, instance_id and user_id always; the rest
    only with the scope that releases it."""
    body = userinfo(client, "GET header", access_token(scope)).get_json()
    always = {"sub", "object", "instance_id", "user_id"}
    clerks = set(USERINFO_FIELDS) | always | {"locale", "updated_at"}
    assert always <= set(body)
    assert set(body) & clerks - always == released


def test_userinfo_private_metadata_with_its_scope_alone(client, access_token):
    body = userinfo(client, "GET header", access_token("openid private_metadata")).get_json()
    assert body["private_metadata"] == PRIVATE


def _expired(app, token: str) -> str:
    """The token's grant has expired (its signature and ``exp`` are still good)."""
    with app.app_context():
        db.session.query(Grant).update({"expires_at": int(time.time()) - 1})
        db.session.commit()
    return token


def _revoked(app, token: str) -> str:
    with app.app_context():
        db.session.query(Grant).update({"revoked_at": int(time.time())})
        db.session.commit()
    return token


@pytest.mark.parametrize("how", ["GET header", "POST header", "POST body"])
@pytest.mark.parametrize("kind", ["missing", "garbage", "tampered", "revoked",
                                  "grant expired in the database", "another issuer's"])
def test_userinfo_without_a_valid_token_is_401(client, access_token, app, how, kind):
    token = access_token()
    if kind == "missing":
        response = {"GET header": lambda: client.get("/oauth/userinfo"),
                    "POST header": lambda: client.post("/oauth/userinfo"),
                    "POST body": lambda: client.post("/oauth/userinfo", data={})}[how]()
    else:
        if kind == "garbage":
            token = "not-a-token"
        elif kind == "tampered":
            head, payload, signature = token.split(".")
            token = f"{head}.{payload}.{signature[:-6]}AAAAAA"
        elif kind == "revoked":
            token = _revoked(app, token)
        elif kind == "grant expired in the database":
            token = _expired(app, token)
        else:
            from joserfc import jwt
            from joserfc.jwk import OKPKey

            foreign = OKPKey.generate_key("Ed25519")
            claims = {"iss": "https://elsewhere.example", "sub": "x", "aud": "clerk-app",
                      "iat": int(time.time()), "exp": int(time.time()) + 300,
                      "jti": "j", "scope": "openid"}
            token = jwt.encode({"alg": "Ed25519", "typ": "at+jwt"}, claims, foreign,
                               algorithms=["Ed25519"])
        response = userinfo(client, how, token)
    assert_json_body_error(response, 401, "invalid_token")
    assert response.headers["WWW-Authenticate"].startswith("Bearer")
    assert 'error="invalid_token"' in response.headers["WWW-Authenticate"]


def test_userinfo_token_in_header_and_body_is_400(client, access_token):
    token = access_token()
    response = client.post("/oauth/userinfo", data={"access_token": token},
                           headers={"Authorization": f"Bearer {token}"})
    assert_json_body_error(response, 400, "invalid_request")


def test_userinfo_token_without_openid_is_403_insufficient_scope(client, access_token):
    response = userinfo(client, "GET header", access_token("profile email"))
    assert_json_body_error(response, 403, "insufficient_scope")
