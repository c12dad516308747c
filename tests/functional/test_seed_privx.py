"""PrivX (seeds/privx-oauth-api.txt), replayed against the IdP.

The token endpoint with Basic client authentication and the three "OAuth
domains" (``privx-ui``: authorization_code; ``privx-external``:
authorization_code, password; ``privx-service``: client_credentials), each
limited to its grants; the token response fields; the authorize endpoint's
parameters ``response_type, client_id, state, redirect_uri, user_agent,
oidc_id, scope`` and its status codes; and the error body, which is always
``{"error": <one of the enum>, "error_description": <string>}``.
"""

from __future__ import annotations

import base64
import time
from urllib.parse import urlsplit

import pytest

from idp.extensions import db
from idp.models import Grant, LoginSession
from tests.helpers import (
    ISSUER,
    PASSWORD,
    REDIRECT_URI,
    basic,
    csrf_token,
    location_params,
    verify_jwt,
)

# The "error" enum of every error body in the seed.
PRIVX_ERRORS = frozenset({"invalid_request", "invalid_client", "invalid_grant",
                          "unauthorized_client", "unsupported_grant_type", "invalid_scope"})
# The seed's grant_type enum.
SEED_GRANTS = ("authorization_code", "refresh_token", "password", "client_credentials")
# The seed's sample values: a scope, a code and a refresh token we never issued.
PRIVX_SCOPE = "privx-user connections-manual"
SAMPLE_CODE = (
    "ZWRHCAS2QGV6CVB6C4JHDSKEGEJLE6CGNJVHMQWC7PQZOOCE7IXEYLHZPTMMQ6OHSDBLH6SFRQPEQL5CKP2MZNF42QYJ"
    "L6DBKMPRLEA3JW4ZD5DIKZJF7YYRIYDAXH4NXZSVSXFHHAMHI6Z6OHXY32S2MWZUASWJHSTOHJBWTS7SGUDGTDMSWNH"
)
SAMPLE_REFRESH_TOKEN = (
    "I7SNNZH4GLZNCOIV7D6DKULPFXBWBD4TTZJ5KQDCO3N2W7D562WSE5QWSNQFO7OTG5VRGPDU73SEUR5NVTXLPNDV6TQ"
    "D6OH6V7S3JNWNFSPZ3ARSSJKJO6MSPVHRY3OFFXN4YLRDZPODQCDW6UL27PLR2YWUOUHF5WBIKZVDR4H5R4VQSPPKBB"
)
# The seed's example redirect_uri: a relative path, which no client can register.
SAMPLE_REDIRECT_URI = "/privx/oauth-callback"

DOMAINS = {
    "privx-ui": ("authorization_code",),
    "privx-external": ("authorization_code", "password"),
    "privx-service": ("client_credentials",),
}


@pytest.fixture
def domain(make_client):
    """Register a PrivX OAuth domain as a client (the seed's grants by default).

    Returns the client secret.
    """

    def register(client_id: str, grants: tuple[str, ...] | None = None, **kwargs) -> str:
        grants = grants or DOMAINS[client_id]
        user_facing = "client_credentials" not in grants
        kwargs.setdefault("scope", f"openid {PRIVX_SCOPE}" if user_facing else PRIVX_SCOPE)
        if "authorization_code" not in grants:
            kwargs.setdefault("redirect_uris", [])
        new = make_client(client_id, grant_types=list(grants), skip_consent=True, **kwargs)
        assert new.client_secret
        return new.client_secret

    return register


@pytest.fixture
def signed_in(oauth, alice):
    assert oauth.login("alice", PASSWORD).status_code == 303
    return oauth


def token_request(http, client_id: str, secret: str, **data):
    """A token request as PrivX sends it: form body, client in a Basic header."""
    return http.post("/oauth/token", data=data, headers=basic(client_id, secret))


def authorize_params(client_id: str, /, **overrides) -> dict[str, str]:
    """The seed's authorize parameters (``oidc_id`` is reserved, so not by default)."""
    base = {"response_type": "code", "client_id": client_id, "state": "privx-state-1",
            "redirect_uri": REDIRECT_URI, "scope": f"openid {PRIVX_SCOPE}"}
    base.update(overrides)
    return {k: v for k, v in base.items() if v is not None}


def privx_code(oauth, client_id: str, **overrides) -> str:
    got = location_params(oauth.authorize(**authorize_params(client_id, **overrides)))
    assert got["state"] == "privx-state-1"
    return got["code"]


def assert_privx_error(response, status: int, error: str | None = None) -> dict:
    """A PrivX error: JSON with exactly ``error`` (from the enum) and ``error_description``."""
    assert response.status_code == status, response.get_data(True)
    assert "Location" not in response.headers
    assert response.mimetype == "application/json", response.get_data(True)
    body = response.get_json()
    assert set(body) == {"error", "error_description"}, body
    assert body["error"] in PRIVX_ERRORS, body
    assert isinstance(body["error_description"], str)
    assert body["error_description"].strip()
    if error is not None:
        assert body["error"] == error, body
    return body


def assert_privx_token(http, response, client_id: str, scope: str) -> tuple[dict, dict]:
    """A PrivX token response; the access token verified against the published JWKS."""
    assert response.status_code == 200, response.get_data(True)
    assert response.mimetype == "application/json"
    assert response.headers["Cache-Control"] == "no-store"
    body = response.get_json()
    assert {"access_token", "token_type", "expires_in", "scope"} <= set(body)
    # The seed shows "bearer"; the token type is case-insensitive (RFC 6749 §5.1).
    assert body["token_type"].lower() == "bearer"
    assert type(body["expires_in"]) is int
    assert body["expires_in"] == 300
    assert body["scope"] == scope

    jwks = http.get("/.well-known/jwks.json").get_json()
    header, claims = verify_jwt(body["access_token"], jwks, ["Ed25519"])
    assert header["alg"] == "Ed25519"  # as in the seed's sample token
    key = next(k for k in jwks["keys"] if k["kid"] == header["kid"])
    assert (key["kty"], key["crv"]) == ("OKP", "Ed25519")
    assert "d" not in key
    assert claims["iss"] == ISSUER
    assert claims["aud"] == client_id
    assert claims["client_id"] == client_id
    assert claims["scope"] == scope
    assert claims["exp"] - claims["iat"] == body["expires_in"]
    assert claims["exp"] > time.time()
    return body, claims


def token_count(app) -> int:
    """Grants recorded: one per user issuance (a refusal records none)."""
    with app.app_context():
        return db.session.query(Grant).count()


# -- the OAuth domains at the token endpoint --------------------------------------------


@pytest.mark.parametrize(("client_id", "grant"), [
    ("privx-ui", "authorization_code"),
    ("privx-external", "authorization_code"),
    ("privx-external", "password"),
    ("privx-service", "client_credentials"),
])
def test_each_privx_domain_gets_tokens_with_the_grants_the_seed_lists(
        signed_in, client, domain, alice, client_id, grant):
    secret = domain(client_id)
    if grant == "authorization_code":
        code = privx_code(signed_in, client_id)
        response = token_request(client, client_id, secret, grant_type=grant, code=code,
                                 redirect_uri=REDIRECT_URI)
        scope, subject = f"openid {PRIVX_SCOPE}", alice.id
    elif grant == "password":
        response = token_request(client, client_id, secret, grant_type=grant,
                                 username="alice", password=PASSWORD, scope=PRIVX_SCOPE)
        scope, subject = PRIVX_SCOPE, alice.id
    else:
        response = token_request(client, client_id, secret, grant_type=grant)
        scope, subject = PRIVX_SCOPE, client_id
    _, claims = assert_privx_token(client, response, client_id, scope)
    assert claims["sub"] == subject


def _refused_grant_request(client, client_id: str, secret: str, grant: str):
    data = {
        "authorization_code": {"code": SAMPLE_CODE, "redirect_uri": REDIRECT_URI},
        "refresh_token": {"refresh_token": SAMPLE_REFRESH_TOKEN},
        "password": {"username": "alice", "password": PASSWORD, "scope": PRIVX_SCOPE},
        "client_credentials": {"scope": PRIVX_SCOPE},
    }[grant]
    return token_request(client, client_id, secret, grant_type=grant, **data)


@pytest.mark.parametrize("grant", ["refresh_token", "password", "client_credentials"])
def test_privx_ui_domain_may_only_use_authorization_code(client, app, domain, alice, grant):
    secret = domain("privx-ui")
    response = _refused_grant_request(client, "privx-ui", secret, grant)
    assert_privx_error(response, 400, "unauthorized_client")
    assert token_count(app) == 0


@pytest.mark.parametrize("grant", ["refresh_token", "client_credentials"])
def test_privx_external_domain_may_only_use_authorization_code_and_password(
        client, app, domain, alice, grant):
    secret = domain("privx-external")
    response = _refused_grant_request(client, "privx-external", secret, grant)
    assert_privx_error(response, 400, "unauthorized_client")
    assert token_count(app) == 0


@pytest.mark.parametrize("grant", ["authorization_code", "refresh_token", "password"])
def test_privx_service_domain_may_only_use_client_credentials(client, app, domain, alice,
                                                              grant):
    secret = domain("privx-service")
    response = _refused_grant_request(client, "privx-service", secret, grant)
    assert_privx_error(response, 400, "unauthorized_client")
    assert token_count(app) == 0


def test_privx_service_domain_cannot_start_an_authorization_code_flow(signed_in, domain):
    domain("privx-service", redirect_uris=[REDIRECT_URI])
    response = signed_in.authorize(**authorize_params("privx-service", scope=PRIVX_SCOPE))
    got = location_params(response)
    assert got["error"] == "unauthorized_client"
    assert got["state"] == "privx-state-1"
    assert "code" not in got


def test_privx_token_response_carries_every_documented_field(signed_in, client, domain, alice):
    # The seed's sample is a privx-ui response with a refresh token; by SPEC a
    # client gets refresh tokens when it is registered for the refresh_token grant.
    secret = domain("privx-ui", grants=("authorization_code", "refresh_token"))
    code = privx_code(signed_in, "privx-ui", scope=PRIVX_SCOPE)
    first = token_request(client, "privx-ui", secret, grant_type="authorization_code",
                          code=code, redirect_uri=REDIRECT_URI)
    body, claims = assert_privx_token(client, first, "privx-ui", PRIVX_SCOPE)
    assert {"access_token", "token_type", "expires_in", "refresh_token", "scope"} <= set(body)
    assert isinstance(body["refresh_token"], str)
    assert len(body["refresh_token"]) >= 43
    assert body["refresh_token"].count(".") != 2  # opaque, not a JWT
    assert claims["sub"] == alice.id

    again = token_request(client, "privx-ui", secret, grant_type="refresh_token",
                          refresh_token=body["refresh_token"])
    rotated, rotated_claims = assert_privx_token(client, again, "privx-ui", PRIVX_SCOPE)
    assert rotated["refresh_token"] != body["refresh_token"]
    assert rotated_claims["sub"] == alice.id
    assert rotated_claims["jti"] != claims["jti"]


def test_privx_domain_without_the_refresh_grant_gets_no_refresh_token(signed_in, client,
                                                                     domain):
    secret = domain("privx-ui")
    code = privx_code(signed_in, "privx-ui")
    response = token_request(client, "privx-ui", secret, grant_type="authorization_code",
                             code=code, redirect_uri=REDIRECT_URI)
    body, _ = assert_privx_token(client, response, "privx-ui", f"openid {PRIVX_SCOPE}")
    assert "refresh_token" not in body


# -- token endpoint errors ---------------------------------------------------------------


@pytest.mark.parametrize("case", ["wrong secret", "unknown client", "malformed basic",
                                  "basic without colon", "empty secret"])
def test_privx_basic_auth_failures_are_401_invalid_client_with_www_authenticate(
        client, app, domain, alice, case):
    secret = domain("privx-external")
    headers = {
        "wrong secret": basic("privx-external", "w" * 43),
        "unknown client": basic("privx-nobody", secret),
        "malformed basic": {"Authorization": "Basic %%%not-base64%%%"},
        "basic without colon": {"Authorization": "Basic "
                                + base64.b64encode(b"privx-external").decode()},
        "empty secret": basic("privx-external", ""),
    }[case]
    response = client.post("/oauth/token", headers=headers, data={
        "grant_type": "password", "username": "alice", "password": PASSWORD})
    assert_privx_error(response, 401, "invalid_client")
    assert response.headers["WWW-Authenticate"].lower().startswith("basic")
    assert token_count(app) == 0


def test_privx_token_request_without_client_credentials_is_401_invalid_client(client, domain,
                                                                             alice):
    domain("privx-external")
    response = client.post("/oauth/token", data={
        "grant_type": "password", "username": "alice", "password": PASSWORD,
        "client_id": "privx-external"})
    assert_privx_error(response, 401, "invalid_client")


@pytest.mark.parametrize(("data", "error"), [
    ({}, "unsupported_grant_type"),
    ({"grant_type": "implicit"}, "unsupported_grant_type"),
    ({"grant_type": "client_delegate"}, "unauthorized_client"),
    ({"grant_type": "authorization_code", "code": SAMPLE_CODE,
      "redirect_uri": REDIRECT_URI}, "invalid_grant"),
    ({"grant_type": "authorization_code", "redirect_uri": REDIRECT_URI}, "invalid_request"),
    ({"grant_type": "password", "username": "alice", "password": "not-the-password"},
     "invalid_grant"),
    ({"grant_type": "password", "username": "nobody", "password": PASSWORD}, "invalid_grant"),
    ({"grant_type": "password", "username": "alice"}, "invalid_request"),
    ({"grant_type": "password", "password": PASSWORD}, "invalid_request"),
    ({"grant_type": "password", "username": "alice", "password": PASSWORD,
      "scope": "privx-admin"}, "invalid_scope"),
], ids=["no grant_type", "unknown grant_type", "grant outside the seed enum", "unknown code",
        "missing code", "wrong password", "unknown user", "missing password",
        "missing username", "scope outside the domain"])
def test_privx_token_errors_are_documented_json_bodies(client, app, domain, alice, data,
                                                       error):
    secret = domain("privx-external")
    response = token_request(client, "privx-external", secret, **data)
    body = assert_privx_error(response, 400)
    if data:
        assert body["error"] == error
    else:  # RFC 6749 allows either for a missing grant_type
        assert body["error"] in {"invalid_request", "unsupported_grant_type"}
    assert response.headers["Cache-Control"] == "no-store"
    assert token_count(app) == 0


@pytest.mark.parametrize("endpoint", ["/oauth/token", "/oauth/authorize"])
def test_privx_internal_error_is_a_json_body_from_the_enum(signed_in, client, domain,
                                                           monkeypatch, endpoint):
    import idp.oauth.interaction
    import idp.oauth.tokens

    def broken(*_args, **_kwargs):
        raise RuntimeError("the signing service is down")

    monkeypatch.setattr(idp.oauth.tokens, "issue", broken)
    monkeypatch.setattr(idp.oauth.interaction, "next_step", broken)
    secret = domain("privx-external")
    if endpoint == "/oauth/token":
        response = token_request(client, "privx-external", secret, grant_type="password",
                                 username="alice", password=PASSWORD)
    else:
        response = client.get(endpoint, query_string=authorize_params("privx-external"),
                              headers={"Accept": "application/json"})
    assert response.status_code == 500
    assert "the signing service is down" not in response.get_data(True)
    assert_privx_error(response, 500)


# -- the authorize endpoint ----------------------------------------------------------------


def test_privx_authorize_with_the_documented_parameters_redirects_with_a_code(
        signed_in, client, domain, alice):
    secret = domain("privx-external")
    response = signed_in.authorize(**authorize_params(
        "privx-external", user_agent="PrivX-GUI/35.0 (Linux x86_64)"))
    assert response.status_code == 302
    location = urlsplit(response.headers["Location"])
    assert f"{location.scheme}://{location.netloc}{location.path}" == REDIRECT_URI
    got = location_params(response)
    assert got["state"] == "privx-state-1"
    assert got["iss"] == ISSUER
    token = token_request(client, "privx-external", secret, grant_type="authorization_code",
                          code=got["code"], redirect_uri=REDIRECT_URI)
    _, claims = assert_privx_token(client, token, "privx-external", f"openid {PRIVX_SCOPE}")
    assert claims["sub"] == alice.id


@pytest.mark.parametrize("user_agent", [
    "PrivX-GUI/35.0 (Linux x86_64)",
    "Mozilla/5.0 (Windows NT 10.0; Win64; x64) PrivX Desktop \u00e9t\u00e9 \u2603",
    "A" * 600,
], ids=["privx", "unicode", "oversized"])
def test_privx_user_agent_parameter_is_stored_on_the_login_session(
        client, oauth, app, domain, alice, user_agent):
    secret = domain("privx-external")
    browser = {"User-Agent": "test-browser/1.0"}
    to_login = client.get("/oauth/authorize", headers=browser,
                          query_string=authorize_params("privx-external",
                                                        user_agent=user_agent))
    assert to_login.status_code == 302
    login_url = to_login.headers["Location"]
    page = client.get(login_url, headers=browser)
    signed = client.post(login_url, headers=browser, data={
        "username": "alice", "password": PASSWORD,
        "csrf_token": csrf_token(page.get_data(True))})
    assert signed.status_code == 303
    got = location_params(client.get(signed.headers["Location"], headers=browser))
    token = token_request(client, "privx-external", secret, grant_type="authorization_code",
                          code=got["code"], redirect_uri=REDIRECT_URI)
    _, claims = assert_privx_token(client, token, "privx-external", f"openid {PRIVX_SCOPE}")
    with app.app_context():
        login_session = db.session.get(LoginSession, claims["sid"])
        assert login_session is not None
        assert login_session.user_id == alice.id
        assert login_session.user_agent == user_agent[:512]


@pytest.mark.parametrize("method", ["GET", "POST"])
@pytest.mark.parametrize("oidc_id", ["github", "azure-ad", "00000000-0000-4000-8000-000000000000"])
def test_privx_authorize_unknown_oidc_id_is_404_json_invalid_request(client, domain, alice,
                                                                     method, oidc_id):
    domain("privx-ui")
    params = authorize_params("privx-ui", oidc_id=oidc_id)
    if method == "POST":
        response = client.post("/oauth/authorize", data=params)
    else:
        response = client.get("/oauth/authorize", query_string=params)
    assert_privx_error(response, 404, "invalid_request")


@pytest.mark.parametrize("method", ["GET", "POST"])
@pytest.mark.parametrize("client_id", ["privx-nobody", "", None],
                         ids=["unknown", "empty", "missing"])
def test_privx_authorize_unknown_client_is_401_never_a_redirect(client, domain, method,
                                                               client_id):
    domain("privx-ui")
    params = authorize_params("privx-ui", client_id=client_id)
    send = client.post if method == "POST" else client.get
    kwargs = {"data": params} if method == "POST" else {"query_string": params}
    page = send("/oauth/authorize", **kwargs)
    assert page.status_code == 401
    assert "Location" not in page.headers
    assert page.mimetype == "text/html"
    as_json = send("/oauth/authorize", headers={"Accept": "application/json"}, **kwargs)
    assert_privx_error(as_json, 401, "invalid_client")


@pytest.mark.parametrize("query", [
    f"redirect_uri={SAMPLE_REDIRECT_URI}",
    "redirect_uri=https://evil.example/privx/oauth-callback",
    f"redirect_uri={REDIRECT_URI}&redirect_uri=https://evil.example/cb",
    f"redirect_uri={REDIRECT_URI}&client_id=privx-ui",
    f"redirect_uri={REDIRECT_URI}&state=again",
], ids=["relative redirect_uri", "foreign redirect_uri", "repeated redirect_uri",
        "repeated client_id", "repeated state"])
def test_privx_authorize_bad_request_is_400_never_a_redirect(client, domain, query):
    domain("privx-ui")
    url = ("/oauth/authorize?response_type=code&client_id=privx-ui&state=s"
           "&scope=openid+privx-user&" + query)
    page = client.get(url)
    assert page.status_code == 400
    assert "Location" not in page.headers
    as_json = client.get(url, headers={"Accept": "application/json"})
    assert_privx_error(as_json, 400, "invalid_request")
