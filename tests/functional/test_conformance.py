"""The OpenID Foundation conformance suite's OP test modules, one test per module.

Plans (the shared notes §2.2): Basic OP (``oidcc-basic-certification-test-plan``,
``code`` with ``client_secret_basic``), Config OP, Form Post Basic and
RP-initiated logout. Each test is named after its module, plays the suite's
relying party and browser through the test client, and makes the checks that
module makes. Every ID token and access token received is verified against the
keys published at the discovery document's ``jwks_uri``.

Modules that do not apply to this provider:
- ``oidcc-idtoken-unsigned``: dynamic-registration variant only;
- ``oidcc-scope-address``, ``oidcc-scope-phone``: these scopes are not
  supported; the provider leaves unknown scopes out (OIDC Core §5.4) and
  ``test_oidcc_scope_all`` checks that;
- ``oidcc-request-uri-unsigned-…``: static-client variants do not run it (the
  provider refuses ``request_uri`` anyway, ``test_interaction.py``).

Request objects are refused, never ignored: ``oidcc-unsigned-request-object-…``
ends SKIPPED on ``request_not_supported``, and
``oidcc-ensure-request-object-with-redirect-uri`` passes on the error page for
the invalid outer ``redirect_uri``. The Form Post Basic plan runs the Basic
modules with ``response_mode=form_post``: the tests marked ``form_post`` below
run both ways.

The suite's clocks are simulated: instead of waiting, a test moves a stored
timestamp (a login session's ``auth_time``, a code's ``used_at``) back in the
database.
"""

from __future__ import annotations

import base64
import json
import re
import secrets
import time
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import parse_qsl, urlencode, urlsplit

import pytest
from joserfc import jwt
from joserfc.errors import BadSignatureError
from joserfc.jwk import KeySet, RSAKey
from sqlalchemy import update

from idp.extensions import db
from idp.models import AuthorizationCode, LoginSession
from tests.conftest import ISSUER, PASSWORD, REDIRECT_URI
from tests.helpers import OAuthClient, at_hash, form_post_params, pkce_pair, verify_jwt

POST_LOGOUT_URI = "https://rp.example/post_logout_redirect"

# RFC 6749 §5.2 / §4.1.2.1: error, error_description and error_uri characters.
ERROR_CHARS = re.compile(r"[\x20\x21\x23-\x5B\x5D-\x7E]*")
# RFC 6749 Appendix A.12 / A.17: access and refresh token characters (VSCHAR).
VSCHAR = re.compile(r"[\x20-\x7E]+")
# RFC 6749 §3.3: scope-token = 1*NQCHAR.
NQCHAR = re.compile(r"[\x21\x23-\x5B\x5D-\x7E]+")
BASE64URL = re.compile(r"[A-Za-z0-9_-]+")
CLOCK_SKEW = 5

STRING_CLAIMS = ("sub", "name", "given_name", "family_name", "middle_name", "nickname",
                 "preferred_username", "profile", "picture", "website", "email", "gender",
                 "birthdate", "zoneinfo", "locale", "phone_number")
BOOLEAN_CLAIMS = ("email_verified", "phone_number_verified")
NUMBER_CLAIMS = ("updated_at",)


# -- checks the suite makes on everything it receives -----------------------------------


def b64url(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode("ascii")


def b64url_json(value: dict) -> str:
    return b64url(json.dumps(value, separators=(",", ":")).encode())


def key_by_kid(jwks: dict, kid: str | None) -> dict:
    assert kid, "the token header names no kid"
    matches = [k for k in jwks["keys"] if k.get("kid") == kid]
    assert len(matches) == 1, f"kid {kid!r} is not exactly one key of the JWKS"
    return matches[0]


def check_standard_claim_types(claims: dict) -> None:
    """ValidateIdTokenStandardClaims / ValidateUserInfoStandardClaims: OIDC Core §5.1 types."""
    for name in STRING_CLAIMS:
        if name in claims:
            assert isinstance(claims[name], str), (name, claims[name])
    for name in BOOLEAN_CLAIMS:
        if name in claims:
            assert isinstance(claims[name], bool), (name, claims[name])
    for name in NUMBER_CLAIMS:
        if name in claims:
            assert isinstance(claims[name], int)
            assert not isinstance(claims[name], bool)
    if "address" in claims:
        assert isinstance(claims["address"], dict)


def check_id_token(token: str, jwks: dict, client_id: str, *, nonce: str | None,
                   access_token: str | None) -> dict:
    """ValidateIdToken, ValidateIdTokenNonce, ValidateIdTokenSignature(UsingKid), at_hash."""
    header, claims = verify_jwt(token, jwks, ["RS256"])
    assert header["alg"] == "RS256"  # the default, with no registration saying otherwise
    key = key_by_kid(jwks, header.get("kid"))
    assert key["kty"] == "RSA"
    assert key.get("use", "sig") == "sig"
    assert key.get("alg", "RS256") == "RS256"
    now = int(time.time())
    assert claims["iss"] == ISSUER
    audiences = [claims["aud"]] if isinstance(claims["aud"], str) else claims["aud"]
    assert client_id in audiences
    if len(audiences) > 1 or "azp" in claims:
        assert claims["azp"] == client_id
    sub = claims["sub"]
    assert isinstance(sub, str)
    assert 0 < len(sub) <= 255
    assert sub.isascii()
    assert isinstance(claims["iat"], int)
    assert claims["iat"] <= now + CLOCK_SKEW
    assert isinstance(claims["exp"], int)
    assert claims["exp"] > now
    assert isinstance(claims["auth_time"], int)
    assert claims["auth_time"] <= claims["iat"]
    if nonce is None:
        assert "nonce" not in claims
    else:
        assert claims["nonce"] == nonce
    assert isinstance(claims["sid"], str)
    assert claims["sid"]
    if access_token is not None:
        assert claims["at_hash"] == at_hash(access_token)
    if "acr" in claims:
        assert isinstance(claims["acr"], str)
    if "amr" in claims:
        assert all(isinstance(m, str) for m in claims["amr"])
    check_standard_claim_types(claims)
    return claims


def check_access_token(token: str, jwks: dict, client_id: str, body: dict) -> dict:
    header, claims = verify_jwt(token, jwks, ["Ed25519"])
    assert header["typ"] == "at+jwt"
    key_by_kid(jwks, header.get("kid"))
    assert claims["iss"] == ISSUER
    assert claims["aud"] == client_id
    assert claims["client_id"] == client_id
    assert claims["scope"] == body["scope"]
    assert claims["exp"] - claims["iat"] == body["expires_in"]
    assert claims["exp"] > time.time()
    assert isinstance(claims["jti"], str)
    assert claims["jti"]
    return claims


def check_token_response(response) -> dict:
    """CheckTokenEndpointHttpStatus200, …ReturnedJsonContentType, …CacheHeaders, Bearer."""
    assert response.status_code == 200, response.get_data(True)
    assert response.mimetype == "application/json"
    assert "no-store" in response.headers["Cache-Control"]
    body = response.get_json()
    assert body["token_type"].lower() == "bearer"
    assert isinstance(body["expires_in"], int)
    assert body["expires_in"] > 0
    assert VSCHAR.fullmatch(body["access_token"])
    if "refresh_token" in body:
        assert VSCHAR.fullmatch(body["refresh_token"])
        assert len(body["refresh_token"]) >= 43  # EnsureMinimumRefreshTokenEntropy: ≥ 256 bits
    return body


def check_token_error(response, error: str) -> None:
    """CheckTokenEndpointHttpStatus400, JSON, CheckErrorFromTokenEndpointResponseError…"""
    assert response.status_code == 400, response.get_data(True)
    assert response.mimetype == "application/json"
    assert "no-store" in response.headers["Cache-Control"]
    body = response.get_json()
    assert body["error"] == error
    assert ERROR_CHARS.fullmatch(body.get("error_description", ""))


def check_success(got: dict, state: str) -> str:
    """CheckMatchingStateParameter, ValidateIssIfPresentInAuthorizationResponse."""
    assert "error" not in got, got
    assert set(got) == {"code", "state", "iss"}, got
    assert got["state"] == state
    assert got["iss"] == ISSUER
    return got["code"]


def check_error(got: dict, state: str, errors: set[str]) -> None:
    """CheckStateInAuthorizationResponse, the iss, the error charset (RFC 6749 §4.1.2.1)."""
    assert "code" not in got, got
    assert got.get("error") in errors, got
    assert got.get("state") == state, f"state {state!r} not returned: {got}"
    assert got.get("iss") == ISSUER, got
    for name in ("error", "error_description", "error_uri"):
        assert ERROR_CHARS.fullmatch(got.get(name, "")), (name, got[name])


def assert_no_redirect(response) -> None:
    assert response.status_code < 300 or response.status_code >= 400, response.status_code
    assert "Location" not in response.headers, response.headers.get("Location")


def local(url: str) -> str:
    """The path of one of the provider's absolute URLs, for the test client."""
    assert url.startswith(ISSUER + "/"), url
    return url.removeprefix(ISSUER)


# -- the relying party and its browser --------------------------------------------------


@dataclass
class Tokens:
    body: dict
    access: dict
    id: dict

    @property
    def access_token(self) -> str:
        return self.body["access_token"]

    @property
    def id_token(self) -> str:
        return self.body["id_token"]


@dataclass
class Flow:
    request: dict
    steps: list[str]
    callback: dict
    tokens: Tokens


@dataclass
class RP:
    """The suite: a registered client, and the browser it sends to the provider."""

    oauth: OAuthClient
    client_id: str
    secret: str | None
    auth: str = "basic"
    locations: list[str] = field(default_factory=list)

    @property
    def http(self):
        return self.oauth.http

    # discovery

    def discovery(self) -> dict:
        response = self.http.get("/.well-known/openid-configuration")
        assert response.status_code == 200
        assert response.mimetype == "application/json"
        return response.get_json()

    def endpoint(self, name: str) -> str:
        return local(self.discovery()[name])

    def jwks(self) -> dict:
        response = self.http.get(self.endpoint("jwks_uri"))
        assert response.status_code == 200
        assert response.mimetype == "application/json"
        return response.get_json()

    # the authorization endpoint

    def params(self, **overrides) -> dict[str, str]:
        """An authorization request: a fresh state and nonce each time (nonces are single-use)."""
        base = {"response_type": "code", "client_id": self.client_id,
                "redirect_uri": REDIRECT_URI, "scope": "openid",
                "state": secrets.token_urlsafe(16), "nonce": secrets.token_urlsafe(16)}
        base.update(overrides)
        return {k: v for k, v in base.items() if v is not None}

    def start(self, params: dict, method: str = "GET", reverse: bool = False):
        path = self.endpoint("authorization_endpoint")
        if method == "POST":
            return self.http.post(path, data=params)
        if reverse:
            return self.http.get(path + "?" + urlencode(list(reversed(params.items()))))
        return self.http.get(path, query_string=params)

    def drive(self, response, *, username: str = "alice", org: str | None = None,
              decision: str = "allow") -> tuple[list[str], Any]:
        """Play the person until the provider answers the client; return the pages seen."""
        steps: list[str] = []
        for _ in range(12):
            if "Location" not in response.headers:
                return steps, response  # a form_post page, or an error page
            assert response.status_code in (302, 303), response.status_code
            location = response.headers["Location"]
            self.locations.append(location)
            parts = urlsplit(location)
            if location.startswith(REDIRECT_URI):
                return steps, response
            assert parts.netloc in ("", "localhost"), location
            if parts.path == "/login":
                steps.append("login")
                response = self.oauth.sign_in_here(response, username, PASSWORD)
            elif parts.path == "/select-org":
                steps.append("select_org")
                assert org is not None, "the provider asks for an organization"
                page = self.http.get(location)
                assert page.status_code == 200, (
                    f"GET {location} did not show the organization page: "
                    f"{page.status_code} {page.headers.get('Location')}")
                response = self.oauth.choose_org(response, org)
            elif parts.path == "/consent":
                steps.append("consent")
                response = self.oauth.approve(response, decision)
            elif parts.path.startswith("/oauth/authorize"):
                response = self.http.get(location)
            else:
                pytest.fail(f"unexpected redirect to {location}")
        pytest.fail("the provider never answered the client")

    @staticmethod
    def delivered(response, mode: str = "query") -> dict[str, str]:
        """The parameters the client receives, from the redirect or the posted form."""
        if mode == "form_post":
            assert response.status_code == 200, response.get_data(True)
            assert "Location" not in response.headers
            assert response.mimetype == "text/html"
            assert "no-store" in response.headers["Cache-Control"]
            html = response.get_data(True)
            action, method, fields = form_post_params(html)
            assert action == REDIRECT_URI  # no query: nothing travels in a URL
            assert method.lower() == "post"  # CheckCallbackHttpMethodIsPost
            enctype = re.search(r'<form[^>]*enctype="([^"]*)"', html)
            # CheckCallbackContentTypeIsFormUrlEncoded: the default encoding
            assert enctype is None or enctype.group(1) == "application/x-www-form-urlencoded"
            return fields
        assert response.status_code in (302, 303), (response.status_code,
                                                    response.get_data(True))
        location = urlsplit(response.headers["Location"])
        assert f"{location.scheme}://{location.netloc}{location.path}" == REDIRECT_URI
        part = location.fragment if mode == "fragment" else location.query
        if mode == "query":
            assert not location.fragment
        return dict(parse_qsl(part, keep_blank_values=True))

    def code(self, params: dict, *, method: str = "GET", reverse: bool = False,
             **drive) -> tuple[str, list[str], dict]:
        steps, final = self.drive(self.start(params, method, reverse), **drive)
        got = self.delivered(final, params.get("response_mode", "query"))
        return check_success(got, params["state"]), steps, got

    # the token endpoint

    def token_request(self, data: dict, auth: str | None = None):
        auth = auth or self.auth
        headers = {}
        if auth == "basic":
            raw = f"{self.client_id}:{self.secret}".encode()
            headers["Authorization"] = "Basic " + base64.b64encode(raw).decode()
        else:
            data = {**data, "client_id": self.client_id, "client_secret": self.secret}
        return self.http.post(self.endpoint("token_endpoint"), data=data, headers=headers)

    def exchange(self, code: str, **extra):
        return self.token_request({"grant_type": "authorization_code", "code": code,
                                   "redirect_uri": REDIRECT_URI, **extra})

    def tokens(self, response, *, nonce: str | None) -> Tokens:
        body = check_token_response(response)
        jwks = self.jwks()
        access = check_access_token(body["access_token"], jwks, self.client_id, body)
        id_claims = check_id_token(body["id_token"], jwks, self.client_id, nonce=nonce,
                                   access_token=body["access_token"])
        assert access["sub"] == id_claims["sub"]
        assert access["sid"] == id_claims["sid"]
        return Tokens(body, access, id_claims)

    def redeem(self, code: str, params: dict, **extra) -> Tokens:
        return self.tokens(self.exchange(code, **extra), nonce=params.get("nonce"))

    def flow(self, *, method: str = "GET", reverse: bool = False, username: str = "alice",
             org: str | None = None, token_extra: dict | None = None, **overrides) -> Flow:
        """The whole code flow; everything received is checked on the way."""
        params = self.params(**overrides)
        code, steps, got = self.code(params, method=method, reverse=reverse,
                                     username=username, org=org)
        return Flow(params, steps, got, self.redeem(code, params, **(token_extra or {})))

    # resources

    def userinfo_response(self, token: str, how: str = "get"):
        path = self.endpoint("userinfo_endpoint")
        bearer = {"Authorization": f"Bearer {token}"}
        if how == "get":
            return self.http.get(path, headers=bearer)
        if how == "post_header":
            return self.http.post(path, headers=bearer)
        assert how == "post_body"
        return self.http.post(path, data={"access_token": token})

    def userinfo(self, token: str, how: str = "get") -> dict:
        response = self.userinfo_response(token, how)
        assert response.status_code == 200, response.get_data(True)
        assert response.mimetype == "application/json"
        claims = response.get_json()
        check_standard_claim_types(claims)
        return claims

    def introspect(self, token: str) -> dict:
        raw = f"{self.client_id}:{self.secret}".encode()
        response = self.http.post(self.endpoint("introspection_endpoint"),
                                  data={"token": token, "token_type_hint": "access_token"},
                                  headers={"Authorization": "Basic "
                                           + base64.b64encode(raw).decode()})
        assert response.status_code == 200, response.get_data(True)
        return response.get_json()

    def logout(self, **params):
        return self.http.get(self.endpoint("end_session_endpoint"), query_string=params)


@pytest.fixture
def registered(make_client):
    """The suite's client: client_secret_basic, a registered post-logout redirect URI."""
    return make_client("web", post_logout_redirect_uris=[POST_LOGOUT_URI])


@pytest.fixture
def rp(oauth, alice, registered):
    return RP(oauth, "web", registered.client_secret)


def age_login_sessions(app, user_id: str, seconds: int) -> None:
    """Pretend the user signed in ``seconds`` earlier than they did."""
    with app.app_context():
        moved = db.session.execute(
            update(LoginSession)
            .where(LoginSession.user_id == user_id, LoginSession.ended_at.is_(None))
            .values(auth_time=LoginSession.auth_time - seconds)
        )
        assert moved.rowcount >= 1
        db.session.commit()


def assert_recent(auth_time: int) -> None:
    now = time.time()
    assert now - CLOCK_SKEW <= auth_time <= now + 1, (auth_time, now)


def wait_past(second: int) -> None:
    """The suite's WaitForOneSecond: until the clock has moved past ``second``."""
    while time.time() < second + 1:
        time.sleep(0.05)


# -- Basic OP -------------------------------------------------------------------------


def test_oidcc_server(rp, alice):
    flow = rp.flow()
    assert flow.steps == ["login", "consent"]
    assert flow.tokens.id["sub"] == alice.id
    jwks = rp.jwks()
    kids = [key.get("kid") for key in jwks["keys"]]
    assert all(kids)  # CheckForKeyIdInServerJWKs
    assert len(set(kids)) == len(kids)  # distinct kids
    assert rp.userinfo(flow.tokens.access_token)["sub"] == alice.id


@pytest.fixture(params=["query", "form_post"])
def mode(request) -> str:
    """The Basic plan's default response mode, and the Form Post Basic plan's."""
    return request.param


def test_oidcc_response_type_missing(rp, mode):
    params = rp.params(response_type=None, **({"response_mode": mode} if mode != "query" else {}))
    response = rp.start(params)
    got = rp.delivered(response, mode)
    check_error(got, params["state"], {"invalid_request", "unsupported_response_type"})
    if mode == "form_post":  # RejectErrorInUrlQuery
        assert "Location" not in response.headers


def test_oidcc_idtoken_signature(rp):
    flow = rp.flow()
    jwks = rp.jwks()
    header, _ = verify_jwt(flow.tokens.id_token, jwks, ["RS256"])
    assert header["alg"] == "RS256"
    assert key_by_kid(jwks, header["kid"])["kty"] == "RSA"
    # The verification is real: a changed claim no longer verifies.
    head, payload, signature = flow.tokens.id_token.split(".")
    claims = json.loads(base64.urlsafe_b64decode(payload + "=" * (-len(payload) % 4)))
    forged = b64url_json({**claims, "sub": "someone-else"})
    with pytest.raises(BadSignatureError):
        verify_jwt(f"{head}.{forged}.{signature}", jwks, ["RS256"])


def _userinfo_module(rp, alice, how: str) -> None:
    flow = rp.flow()
    claims = rp.userinfo(flow.tokens.access_token, how)
    assert claims["sub"] == flow.tokens.id["sub"] == alice.id


def test_oidcc_userinfo_get(rp, alice):
    _userinfo_module(rp, alice, "get")


def test_oidcc_userinfo_post_header(rp, alice):
    _userinfo_module(rp, alice, "post_header")


def test_oidcc_userinfo_post_body(rp, alice):
    _userinfo_module(rp, alice, "post_body")


def test_oidcc_ensure_request_without_nonce_succeeds_for_code_flow(rp):
    flow = rp.flow(nonce=None)
    assert "nonce" not in flow.request
    assert "nonce" not in flow.tokens.id  # checked against nonce=None in check_id_token


def test_oidcc_scope_profile(rp):
    flow = rp.flow(scope="openid profile")
    assert set(flow.tokens.body["scope"].split()) == {"openid", "profile"}
    info = rp.userinfo(flow.tokens.access_token)
    assert info["name"] == "Alice Anders"
    assert info["given_name"] == "Alice"
    assert info["family_name"] == "Anders"
    assert info["preferred_username"] == "alice"
    assert isinstance(info["updated_at"], int)


def test_oidcc_scope_email(rp):
    flow = rp.flow(scope="openid email")
    assert set(flow.tokens.body["scope"].split()) == {"openid", "email"}
    info = rp.userinfo(flow.tokens.access_token)
    assert info["email"] == "alice@example.com"
    assert info["email_verified"] is True


def test_oidcc_scope_all(rp):
    flow = rp.flow(scope="openid profile email address phone")
    # address and phone are not supported: left out (OIDC Core §5.4), and the
    # token response's scope says what was granted (RFC 6749 §3.3, §5.1).
    assert set(flow.tokens.body["scope"].split()) == {"openid", "profile", "email"}
    info = rp.userinfo(flow.tokens.access_token)
    assert info["name"] == "Alice Anders"
    assert info["email"] == "alice@example.com"
    assert "address" not in info
    assert "phone_number" not in info


def test_scope_order_does_not_matter(rp):
    flow = rp.flow(scope="email openid")
    assert set(flow.tokens.body["scope"].split()) == {"openid", "email"}
    assert rp.userinfo(flow.tokens.access_token)["email"] == "alice@example.com"


def test_oidcc_alternate_happy_flow(rp):
    # Scope values reversed and the query parameters in reverse order.
    flow = rp.flow(scope="email openid", reverse=True)
    assert flow.steps == ["login", "consent"]
    assert set(flow.tokens.body["scope"].split()) == {"openid", "email"}
    assert rp.userinfo(flow.tokens.access_token)["email"] == "alice@example.com"


def test_oidcc_display_page(rp):
    flow = rp.flow(display="page")
    assert flow.steps == ["login", "consent"]


def test_oidcc_display_popup(rp):
    flow = rp.flow(display="popup")
    assert flow.steps == ["login", "consent"]


def test_oidcc_prompt_login(rp, app, alice):
    assert rp.oauth.login("alice", PASSWORD).status_code == 303
    age_login_sessions(app, alice.id, 10)
    first = rp.flow()
    assert first.steps == ["consent"]
    second = rp.flow(prompt="login")
    assert second.steps == ["login"]  # signed in, and still asked to sign in again
    assert second.tokens.id["sub"] == first.tokens.id["sub"]
    assert second.tokens.id["auth_time"] > first.tokens.id["auth_time"]
    assert_recent(second.tokens.id["auth_time"])
    assert second.tokens.id["sid"] != first.tokens.id["sid"]


def test_oidcc_prompt_none_not_logged_in(rp):
    params = rp.params(prompt="none")
    response = rp.start(params)
    assert response.status_code == 302
    check_error(rp.delivered(response), params["state"], {"login_required"})


def test_oidcc_prompt_none_logged_in(rp):
    first = rp.flow()
    params = rp.params(prompt="none")
    response = rp.start(params)
    assert response.headers["Location"].startswith(REDIRECT_URI)  # no page shown
    code = check_success(rp.delivered(response), params["state"])
    second = rp.redeem(code, params)
    assert second.id["sub"] == first.tokens.id["sub"]
    assert second.id["auth_time"] == first.tokens.id["auth_time"]
    assert second.id["sid"] == first.tokens.id["sid"]


def test_oidcc_max_age_1(rp, app, alice):
    first = rp.flow()
    age_login_sessions(app, alice.id, 5)  # the suite waits; the session is now 5 s old
    second = rp.flow(max_age="1")
    assert second.steps == ["login"]
    auth_time = second.tokens.id["auth_time"]  # required: max_age was sent
    assert auth_time >= first.tokens.id["auth_time"]
    assert auth_time > first.tokens.id["auth_time"] - 5
    assert_recent(auth_time)
    assert second.tokens.id["sub"] == first.tokens.id["sub"]


def test_oidcc_max_age_10000(rp):
    first = rp.flow(max_age="15000")  # the suite's first request asks for auth_time too
    assert isinstance(first.tokens.id["auth_time"], int)
    second = rp.flow(max_age="10000")
    assert second.steps == []
    assert second.tokens.id["auth_time"] == first.tokens.id["auth_time"]
    assert second.tokens.id["sub"] == first.tokens.id["sub"]


def test_oidcc_ensure_request_with_unknown_parameter_succeeds(rp):
    flow = rp.flow(extra=secrets.token_urlsafe(8))
    assert flow.steps == ["login", "consent"]


def test_oidcc_id_token_hint(rp):
    first = rp.flow()
    second = rp.flow(prompt="none", id_token_hint=first.tokens.id_token)
    assert second.steps == []  # silent: no page shown
    assert second.tokens.id["sub"] == first.tokens.id["sub"]
    assert second.tokens.id["auth_time"] == first.tokens.id["auth_time"]


@pytest.mark.parametrize("hint", ["another_user", "tampered"])
def test_oidcc_id_token_hint_rejected(rp, app, make_user, registered, hint):
    first = rp.flow()
    if hint == "another_user":
        # The signed-in user is not the person the hint names.
        make_user("bob")
        bob = RP(OAuthClient(app.test_client()), "web", registered.client_secret)
        bobs = bob.flow(username="bob")
        assert bobs.tokens.id["sub"] != first.tokens.id["sub"]
        value, expected = bobs.tokens.id_token, "login_required"
    else:
        # A tampered hint is not an ID token issued here.
        head, payload, signature = first.tokens.id_token.split(".")
        claims = json.loads(base64.urlsafe_b64decode(payload + "=" * (-len(payload) % 4)))
        forged = b64url_json({**claims, "exp": claims["exp"] + 3600})
        value, expected = f"{head}.{forged}.{signature}", "invalid_request"
    params = rp.params(prompt="none", id_token_hint=value)
    response = rp.start(params)
    assert response.status_code == 302
    check_error(rp.delivered(response), params["state"], {expected})


def test_oidcc_login_hint(rp):
    params = rp.params(login_hint="alice@example.com")
    to_login = rp.start(params)
    assert urlsplit(to_login.headers["Location"]).path == "/login"
    page = rp.http.get(to_login.headers["Location"])
    assert 'value="alice@example.com"' in page.get_data(True)
    steps, final = rp.drive(to_login)
    assert steps == ["login", "consent"]
    code = check_success(rp.delivered(final), params["state"])
    rp.redeem(code, params)


def test_oidcc_ui_locales(rp):
    assert rp.flow(ui_locales="se").steps == ["login", "consent"]


def test_oidcc_claims_locales(rp):
    assert rp.flow(claims_locales="se").steps == ["login", "consent"]


def test_oidcc_ensure_request_with_acr_values_succeeds(rp):
    flow = rp.flow(acr_values="1 2")
    assert isinstance(flow.tokens.id["acr"], str)


def test_oidcc_claims_essential(rp):
    claims = json.dumps({"userinfo": {"name": {"essential": True}}})
    flow = rp.flow(claims=claims)
    # The suite warns unless UserInfo has the name and the ID token does not.
    assert isinstance(rp.userinfo(flow.tokens.access_token)["name"], str)
    assert "name" not in flow.tokens.id


def test_oidcc_codereuse(rp):
    params = rp.params()
    code, _, _ = rp.code(params)
    rp.redeem(code, params)
    check_token_error(rp.exchange(code), "invalid_grant")


def test_oidcc_codereuse_30seconds(rp, app):
    params = rp.params()
    code, _, _ = rp.code(params)
    first = rp.redeem(code, params)
    token = first.access_token
    assert rp.userinfo(token)["sub"] == first.id["sub"]
    assert rp.introspect(token)["active"] is True

    with app.app_context():  # 30 seconds pass
        db.session.execute(update(AuthorizationCode).values(
            issued_at=AuthorizationCode.issued_at - 30,
            expires_at=AuthorizationCode.expires_at - 30,
            used_at=AuthorizationCode.used_at - 30,
        ))
        db.session.commit()

    check_token_error(rp.exchange(code), "invalid_grant")
    rejected = rp.userinfo_response(token)
    assert rejected.status_code == 401
    assert rejected.get_json()["error"] == "invalid_token"
    assert rp.introspect(token) == {"active": False}


@pytest.mark.parametrize("redirect_uri", ["https://rp.example/callback/unregistered",
                                          "https://evil.example/callback"])
def test_oidcc_ensure_registered_redirect_uri(rp, redirect_uri):
    params = rp.params(redirect_uri=redirect_uri)
    before_login = rp.start(params)
    assert before_login.status_code == 400
    assert_no_redirect(before_login)
    assert rp.oauth.login("alice", PASSWORD).status_code == 303
    signed_in = rp.start(rp.params(redirect_uri=redirect_uri))
    assert signed_in.status_code == 400
    assert_no_redirect(signed_in)
    assert "code=" not in signed_in.get_data(True)


def test_oidcc_ensure_post_request_succeeds(rp, mode):
    extra = {"response_mode": mode} if mode != "query" else {}
    first = rp.flow(method="POST", **extra)
    assert first.steps == ["login", "consent"]
    # Signed in and consented: the POST itself is answered with the code, by 303 (or,
    # in form_post mode, by the page that posts it).
    params = rp.params(**extra)
    response = rp.start(params, "POST")
    assert response.status_code == (303 if mode == "query" else 200)
    second = rp.redeem(check_success(rp.delivered(response, mode), params["state"]), params)
    assert second.id["sub"] == first.tokens.id["sub"]


def test_oidcc_unsigned_request_object_supported_correctly_or_rejected_as_unsupported(rp, mode):
    """Everything travels in the object but what the suite repeats outside it: no state."""
    inner = rp.params(**({"response_mode": mode} if mode != "query" else {}))
    claims = b64url_json(inner)
    outside = {k: inner[k] for k in ("response_type", "client_id", "scope", "redirect_uri")}
    outside["request"] = f"{b64url_json({'alg': 'none'})}.{claims}."
    if mode != "query":
        outside["response_mode"] = mode  # the error must come back the way it was asked
    response = rp.start(outside)
    got = rp.delivered(response, mode)
    assert got["error"] == "request_not_supported"  # the suite ends the module SKIPPED
    assert "code" not in got
    assert got["iss"] == ISSUER


def test_oidcc_ensure_request_object_with_redirect_uri(rp):
    """A valid redirect_uri only inside the object, an invalid one outside: the error page
    for the outside one, never a redirect to the registered URI."""
    inner = rp.params()
    outside = {**{k: inner[k] for k in ("response_type", "client_id", "scope")},
               "redirect_uri": REDIRECT_URI + "_invalid",
               "request": f"{b64url_json({'alg': 'none'})}.{b64url_json(inner)}."}
    response = rp.start(outside)
    assert response.status_code == 400
    assert_no_redirect(response)


def test_oidcc_server_client_secret_post(oauth, alice, make_client):
    new = make_client("post-client", auth_method="client_secret_post")
    rp = RP(oauth, "post-client", new.client_secret, auth="post")
    assert "client_secret_post" in rp.discovery()["token_endpoint_auth_methods_supported"]
    flow = rp.flow()
    assert flow.tokens.id["sub"] == alice.id
    assert rp.userinfo(flow.tokens.access_token)["sub"] == alice.id


def test_oidcc_refresh_token(rp, oauth, make_client):
    assert "refresh_token" in rp.discovery()["grant_types_supported"]
    scope = "openid offline_access"
    first = rp.flow(scope=scope, prompt="consent")  # the suite asks consent for offline_access
    assert first.steps == ["login", "consent"]
    refresh_token = first.tokens.body["refresh_token"]

    wait_past(first.tokens.id["iat"])  # so that the new ID token's iat differs
    refreshed = rp.token_request({"grant_type": "refresh_token",
                                  "refresh_token": refresh_token, "scope": scope})
    second = rp.tokens(refreshed, nonce=None)
    assert second.access_token != first.tokens.access_token
    # CompareIdTokenClaims (OIDC Core §12.2)
    for claim in ("iss", "sub", "aud", "azp", "auth_time"):
        assert second.id[claim] == first.tokens.id[claim], claim
    assert second.id["iat"] > first.tokens.id["iat"]
    assert rp.userinfo(second.access_token)["sub"] == first.tokens.id["sub"]

    # A refresh token issued to client 2 does not work for client 1.
    other = make_client("web2")
    rp2 = RP(oauth, "web2", other.client_secret)
    theirs = rp2.flow(scope=scope, prompt="consent")
    assert theirs.steps == ["consent"]
    stolen = rp.token_request({"grant_type": "refresh_token",
                               "refresh_token": theirs.tokens.body["refresh_token"]})
    check_token_error(stolen, "invalid_grant")
    still = rp2.token_request({"grant_type": "refresh_token",
                               "refresh_token": theirs.tokens.body["refresh_token"]})
    rp2.tokens(still, nonce=None)


def test_oidcc_ensure_request_with_valid_pkce_succeeds(rp):
    verifier, challenge = pkce_pair()
    flow = rp.flow(code_challenge=challenge, code_challenge_method="S256",
                   token_extra={"code_verifier": verifier})
    assert flow.steps == ["login", "consent"]


# -- Config OP --------------------------------------------------------------------------


def test_oidcc_discovery_endpoint_verification(client):
    response = client.get("/.well-known/openid-configuration")
    assert response.status_code == 200
    assert response.mimetype == "application/json"
    doc = response.get_json()

    # CheckDiscEndpointIssuer / …DiscoveryUrl / …IssuerIsValidUrl
    assert doc["issuer"] == ISSUER
    issuer = urlsplit(doc["issuer"])
    assert issuer.scheme in ("http", "https")
    assert issuer.netloc
    assert not issuer.query
    assert not issuer.fragment
    # CheckDiscEndpointAllEndpointsAreHttps does not apply to this test issuer,
    # http://localhost: every endpoint is HTTPS except on localhost.
    endpoints = {name: url for name, url in doc.items()
                 if name.endswith(("_endpoint", "_uri")) and isinstance(url, str)}
    for name in ("authorization_endpoint", "token_endpoint", "userinfo_endpoint", "jwks_uri"):
        assert name in endpoints
    for name, url in endpoints.items():
        parts = urlsplit(url)
        assert parts.scheme == "https" or parts.hostname == "localhost", (name, url)
        assert url.startswith(ISSUER + "/"), (name, url)

    # response types, subject types, ID token algorithms
    assert "code" in doc["response_types_supported"]
    subject_types = doc["subject_types_supported"]
    assert subject_types
    assert set(subject_types) <= {"public", "pairwise"}
    assert "RS256" in doc["id_token_signing_alg_values_supported"]
    assert "none" not in doc["id_token_signing_alg_values_supported"]

    # scopes
    assert "openid" in doc["scopes_supported"]
    assert all(NQCHAR.fullmatch(scope) for scope in doc["scopes_supported"])

    # CheckDiscEndpointClaimsParameterSupported (and the request-object flags)
    for flag in ("claims_parameter_supported", "request_parameter_supported",
                 "request_uri_parameter_supported"):
        assert isinstance(doc[flag], bool), flag
    assert isinstance(doc["claims_supported"], list)
    assert all(isinstance(claim, str) for claim in doc["claims_supported"])
    assert isinstance(doc["grant_types_supported"], list)
    assert doc["grant_types_supported"]
    assert isinstance(doc["code_challenge_methods_supported"], list)

    # jwks_uri: ValidateServerJWKs, EnsureServerJwksDoesNotContainPrivateOrSymmetricKeys
    keys_response = client.get(local(doc["jwks_uri"]))
    assert keys_response.status_code == 200
    assert keys_response.mimetype == "application/json"
    jwks = keys_response.get_json()
    assert jwks["keys"]
    KeySet.import_key_set(jwks)  # every key parses
    for key in jwks["keys"]:
        assert key["kty"] in {"RSA", "EC", "OKP"}  # no symmetric keys
        assert not {"d", "p", "q", "dp", "dq", "qi", "k"} & set(key), key["kid"]
        assert isinstance(key["kid"], str)
        assert key["kid"]
        assert key.get("use", "sig") == "sig"
        members = {"RSA": ("n", "e"), "EC": ("x", "y"), "OKP": ("x",)}[key["kty"]]
        for member in members:
            assert BASE64URL.fullmatch(key[member]), (key["kid"], member)  # unpadded base64url
    assert any(k["kty"] == "RSA" and k.get("alg", "RS256") == "RS256" for k in jwks["keys"])
    assert len({k["kid"] for k in jwks["keys"]}) == len(jwks["keys"])


# -- Form Post Basic ---------------------------------------------------------------------


def test_oidcc_formpost_codereuse(rp):
    params = rp.params(response_mode="form_post")
    code, _, _ = rp.code(params)
    rp.redeem(code, params)
    check_token_error(rp.exchange(code), "invalid_grant")


def test_oidcc_formpost_server(rp):
    params = rp.params(response_mode="form_post")
    code, steps, _got = rp.code(params)
    assert steps == ["login", "consent"]
    # RejectAuthCodeInUrlQuery: the code was never in a URL.
    for location in rp.locations:
        assert "code" not in dict(parse_qsl(urlsplit(location).query)), location
        assert not location.startswith(REDIRECT_URI), location
    flow_tokens = rp.redeem(code, params)
    assert rp.userinfo(flow_tokens.access_token)["sub"] == flow_tokens.id["sub"]


def test_oidcc_formpost_error_is_posted(rp):
    params = rp.params(response_mode="form_post", prompt="none")
    response = rp.start(params)
    got = rp.delivered(response, "form_post")
    check_error(got, params["state"], {"login_required"})
    # RejectErrorInUrlQuery
    assert "Location" not in response.headers


# -- RP-initiated logout -----------------------------------------------------------------


def test_oidcc_rp_initiated_logout(rp):
    assert rp.discovery()["end_session_endpoint"] == ISSUER + "/oauth/logout"
    flow = rp.flow()
    state = secrets.token_urlsafe(96)[:128]  # a long state, as the suite sends
    response = rp.logout(id_token_hint=flow.tokens.id_token,
                         post_logout_redirect_uri=POST_LOGOUT_URI, state=state)
    assert response.status_code in (302, 303)
    location = urlsplit(response.headers["Location"])
    assert f"{location.scheme}://{location.netloc}{location.path}" == POST_LOGOUT_URI
    assert dict(parse_qsl(location.query)) == {"state": state}  # and nothing unexpected
    # Signed out: prompt=none must now fail.
    params = rp.params(prompt="none")
    check_error(rp.delivered(rp.start(params)), params["state"], {"login_required"})


def _still_signed_in(rp, flow: Flow) -> None:
    """A refused logout ends nothing: prompt=none still succeeds, for the same person."""
    again = rp.flow(prompt="none")
    assert again.steps == []
    assert again.tokens.id["sid"] == flow.tokens.id["sid"]


def test_oidcc_rp_initiated_logout_bad_post_logout_redirect_uri(rp):
    flow = rp.flow()
    response = rp.logout(id_token_hint=flow.tokens.id_token,
                         post_logout_redirect_uri=POST_LOGOUT_URI + "/unregistered",
                         state=secrets.token_urlsafe(16))
    assert_no_redirect(response)


def test_oidcc_rp_initiated_logout_modified_id_token_hint(rp):
    flow = rp.flow()
    _, payload, signature = flow.tokens.id_token.split(".")
    unsigned_header = b64url_json({"alg": "none", "typ": "JWT"})
    for hint in (f"{unsigned_header}.{payload}.", f"{unsigned_header}.{payload}.{signature}"):
        response = rp.logout(id_token_hint=hint, post_logout_redirect_uri=POST_LOGOUT_URI,
                             state=secrets.token_urlsafe(16))
        assert response.status_code == 400
        assert_no_redirect(response)
    _still_signed_in(rp, flow)


def test_oidcc_rp_initiated_logout_bad_id_token_hint(rp):
    flow = rp.flow()
    header, claims = verify_jwt(flow.tokens.id_token, rp.jwks(), ["RS256"])
    # Signed by a key that is not ours, under our key's kid.
    foreign = RSAKey.generate_key(2048, parameters={"kid": header["kid"]})
    hint = jwt.encode({"alg": "RS256", "typ": "JWT", "kid": header["kid"]}, claims, foreign,
                      algorithms=["RS256"])
    response = rp.logout(id_token_hint=hint, post_logout_redirect_uri=POST_LOGOUT_URI,
                         state=secrets.token_urlsafe(16))
    assert response.status_code == 400
    assert_no_redirect(response)
    _still_signed_in(rp, flow)


def test_oidcc_rp_initiated_logout_no_id_token_hint(rp):
    """The suite sends the post-logout URI and state, and nothing naming its client: an
    error page (the URI cannot be checked against any registration), no redirect."""
    flow = rp.flow()
    response = rp.logout(post_logout_redirect_uri=POST_LOGOUT_URI,
                         state=secrets.token_urlsafe(16))
    assert response.status_code == 400
    assert_no_redirect(response)
    _still_signed_in(rp, flow)


def test_rp_initiated_logout_without_a_hint_but_naming_the_client_asks_first(rp):
    flow = rp.flow()
    response = rp.logout(post_logout_redirect_uri=POST_LOGOUT_URI, client_id=rp.client_id,
                         state=secrets.token_urlsafe(16))
    assert response.status_code == 200
    assert_no_redirect(response)
    page = response.get_data(True)
    assert 'name="confirm" value="yes"' in page  # the person is asked to confirm
    assert 'action="/oauth/logout"' in page
    _still_signed_in(rp, flow)


def _confirm_logout(rp, page_response):
    page = page_response.get_data(True)
    assert 'name="confirm" value="yes"' in page
    action, _method, fields = form_post_params(page)
    return rp.http.post(action, data=fields)


def _signed_out(rp) -> None:
    params = rp.params(prompt="none")
    check_error(rp.delivered(rp.start(params)), params["state"], {"login_required"})


def test_oidcc_rp_initiated_logout_no_params(rp):
    rp.flow()
    confirmed = _confirm_logout(rp, rp.logout())
    assert confirmed.status_code == 200  # the signed-out page
    assert_no_redirect(confirmed)
    assert "You are signed out" in confirmed.get_data(True)
    _signed_out(rp)


def test_oidcc_rp_initiated_logout_only_state(rp):
    rp.flow()
    confirmed = _confirm_logout(rp, rp.logout(state=secrets.token_urlsafe(16)))
    assert_no_redirect(confirmed)
    assert "You are signed out" in confirmed.get_data(True)
    _signed_out(rp)


def test_oidcc_rp_initiated_logout_no_post_logout_redirect_uri(rp):
    flow = rp.flow()
    response = rp.logout(id_token_hint=flow.tokens.id_token, state=secrets.token_urlsafe(16))
    assert response.status_code == 200
    assert_no_redirect(response)
    assert "You are signed out" in response.get_data(True)
    _signed_out(rp)


def test_oidcc_rp_initiated_logout_no_state(rp):
    flow = rp.flow()
    response = rp.logout(id_token_hint=flow.tokens.id_token,
                         post_logout_redirect_uri=POST_LOGOUT_URI)
    assert response.status_code in (302, 303)
    assert response.headers["Location"] == POST_LOGOUT_URI  # no state, and nothing else
    _signed_out(rp)


def test_oidcc_rp_initiated_logout_bad_id_token_hint_signed_with_the_client_secret(rp,
                                                                                   registered):
    """The suite's own bad hint: HS256 with the client's secret, no kid, iss = client_id."""
    from joserfc.jwk import OctKey
    flow = rp.flow()
    claims = {"iss": rp.client_id, "aud": ISSUER, "sub": "SubjectID", "nonce": "n",
              "iat": int(time.time()), "exp": int(time.time()) + 300}
    hint = jwt.encode({"alg": "HS256", "typ": "JWT"}, claims,
                      OctKey.import_key(registered.client_secret), algorithms=["HS256"])
    response = rp.logout(id_token_hint=hint, post_logout_redirect_uri=POST_LOGOUT_URI,
                         state=secrets.token_urlsafe(16))
    assert response.status_code == 400
    assert_no_redirect(response)
    _still_signed_in(rp, flow)


def test_oidcc_rp_initiated_logout_discovery_endpoint_verification(rp):
    """end_session_endpoint is there and a URL of the issuer's (https in production:
    ``tests/browser/test_https.py`` checks every URL of a live https server)."""
    document = rp.discovery()
    endpoint = urlsplit(document["end_session_endpoint"])
    assert f"{endpoint.scheme}://{endpoint.netloc}" == ISSUER
    assert endpoint.path == "/oauth/logout"


def test_oidcc_rp_initiated_logout_query_added_to_post_logout_redirect_uri(rp):
    flow = rp.flow()
    response = rp.logout(id_token_hint=flow.tokens.id_token,
                         post_logout_redirect_uri=POST_LOGOUT_URI + "?foo=bar",
                         state=secrets.token_urlsafe(16))
    assert_no_redirect(response)


# -- prompt values beyond the suite ---------------------------------------------------------


def test_prompt_consent_always_asks(rp):
    first = rp.flow()
    assert first.steps == ["login", "consent"]
    assert rp.flow().steps == []  # consent remembered
    for _ in range(2):
        again = rp.flow(prompt="consent")
        assert again.steps == ["consent"]
        assert again.tokens.id["sub"] == first.tokens.id["sub"]
    # Denying on a forced consent page is access_denied.
    params = rp.params(prompt="consent")
    denied = rp.oauth.approve(rp.start(params), decision="deny")
    check_error(rp.delivered(denied), params["state"], {"access_denied"})


def test_prompt_select_account_asks_again(rp, app, alice, make_org):
    acme = make_org("acme", members=[alice])
    globex = make_org("globex", members=[alice])
    first = rp.flow(scope="openid org", org="acme")
    assert first.steps == ["login", "select_org", "consent"]
    assert first.tokens.id["org_slug"] == "acme"
    assert first.tokens.access["org_id"] == acme.id

    remembered = rp.flow(scope="openid org")
    assert remembered.steps == []
    assert remembered.tokens.access["org_id"] == acme.id

    chosen = rp.flow(scope="openid org", prompt="select_account", org="globex")
    assert chosen.steps == ["select_org"]
    assert chosen.tokens.id["org_slug"] == "globex"
    assert chosen.tokens.access["org_id"] == globex.id
    assert chosen.tokens.id["sub"] == first.tokens.id["sub"]


@pytest.mark.parametrize("extra", [{"prompt": "none"}, {"max_age": "abc"}])
def test_interaction_errors_carry_state(rp, registered, extra):
    """Errors decided after Authlib's checks still return ``state`` (RFC 6749 §4.1.2.1)."""
    rp.flow()
    params = rp.params(scope="openid profile email", **extra)
    check_error(rp.delivered(rp.start(params)), params["state"],
                {"consent_required", "invalid_request"})
