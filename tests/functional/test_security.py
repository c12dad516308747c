"""Hostile input and hostile users: each test is named after the attack it stops."""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import re
import time

import pytest
from joserfc import jwt
from joserfc.jwk import OKPKey, RSAKey

from idp.extensions import db
from idp.models import AuditEvent, AuthorizationCode, Consent, Grant, LoginSession, RevokedToken
from idp.oauth import keys
from tests.helpers import (
    PASSWORD,
    OAuthClient,
    assert_json_error,
    authorize_params,
    csrf_token,
    location_params,
)

EXCHANGE = "urn:ietf:params:oauth:grant-type:token-exchange"
ACCESS_TOKEN_TYPE = "urn:ietf:params:oauth:token-type:access_token"


def b64(data: bytes | dict) -> str:
    if isinstance(data, dict):
        data = json.dumps(data, separators=(",", ":")).encode()
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


def row_counts(app) -> dict[str, int]:
    with app.app_context():
        return {model.__tablename__: db.session.query(model).count()
                for model in (Grant, RevokedToken, AuthorizationCode, LoginSession,
                              Consent)}


# -- 1. browser session safety ------------------------------------------------------------


@pytest.mark.parametrize("path", ["/login", "/logout", "/consent", "/select-org",
                                  "/account/password", "/oauth/logout"])
def test_cross_site_post_without_csrf_token_is_rejected_and_records_nothing(
        app, client, alice, oauth, path):
    oauth.login("alice", PASSWORD)
    before = row_counts(app)
    data = {"username": "alice", "password": PASSWORD, "decision": "allow", "org": "acme",
            "current_password": PASSWORD, "new_password": "x" * 12,
            "confirm_password": "x" * 12, "confirm": "yes"}
    response = client.post(path + "?" + "&".join(
        f"{k}={v}" for k, v in authorize_params().items()), data=data)
    assert response.status_code == 400
    assert "Location" not in response.headers
    assert row_counts(app) == before


def test_session_fixation_planted_cookie_is_replaced_at_login(client, alice, oauth):
    client.set_cookie("idp_session", "planted-by-attacker")
    oauth.login("alice", PASSWORD)
    assert client.get_cookie("idp_session").value != "planted-by-attacker"


def test_session_fixation_session_content_does_not_survive_login(client, alice, oauth):
    with client.session_transaction() as session:
        session["planted"] = "by attacker"
    oauth.login("alice", PASSWORD)
    with client.session_transaction() as session:
        assert "planted" not in session


def test_cookie_theft_session_cookie_is_httponly_and_samesite(client, alice, oauth):
    oauth.login("alice", PASSWORD)
    cookie = client.get_cookie("idp_session")
    assert cookie.http_only
    assert cookie.same_site == "Lax"
    assert not cookie.secure  # a plain-http development issuer


@pytest.fixture
def https_app(app, make_app):
    return make_app(ISSUER="https://id.example.com")


def test_cookie_theft_over_http_secure_host_cookie_when_https(https_app):
    response = _https_login(https_app, Referer="https://id.example.com/login")
    assert response.status_code == 303
    page = https_app.test_client().get("/login", base_url="https://id.example.com")
    assert page.headers["Strict-Transport-Security"].startswith("max-age=")
    cookie = response.headers["Set-Cookie"]
    assert cookie.startswith("__Host-idp_session=")
    assert "Secure" in cookie
    assert "HttpOnly" in cookie


def _https_login(app, **headers):
    with app.app_context():
        from idp.services import accounts
        accounts.create_user("alice", "alice@example.com", PASSWORD)
        db.session.commit()
    http = app.test_client()
    base = {"base_url": "https://id.example.com"}
    page = http.get("/login", **base)
    return http.post("/login", data={"username": "alice", "password": PASSWORD,
                                     "csrf_token": csrf_token(page.get_data(True))},
                     headers=headers, **base)


@pytest.mark.parametrize("headers", [
    {},  # a browser or privacy tool that sends neither Origin nor Referer
    {"Origin": "https://id.example.com"},
    {"Origin": "null", "Sec-Fetch-Site": "same-origin"},  # a no-referrer page (Fetch)
    {"Referer": "https://id.example.com/login?x=1"},
    {"Sec-Fetch-Site": "same-origin", "Origin": "https://id.example.com",
     "Referer": "https://id.example.com/login"},
], ids=["no-headers", "origin", "null-origin", "referer", "all"])
def test_a_form_from_this_origin_signs_in_over_https_without_needing_a_referer(https_app,
                                                                               headers):
    assert _https_login(https_app, **headers).status_code == 303


@pytest.mark.parametrize("headers", [
    {"Origin": "https://evil.example"},
    {"Origin": "http://id.example.com"},  # same host, other scheme: another origin
    {"Sec-Fetch-Site": "cross-site"},
    {"Sec-Fetch-Site": "same-site", "Origin": "https://sub.id.example.com"},
    {"Referer": "https://evil.example/page"},
], ids=["origin", "scheme", "fetch-metadata", "same-site", "referer"])
def test_csrf_a_form_posted_from_another_origin_is_refused_even_with_a_token(https_app,
                                                                            headers):
    response = _https_login(https_app, **headers)
    assert response.status_code == 400
    assert "did not come from this site" in response.get_data(True)
    with https_app.app_context():
        assert db.session.query(LoginSession).count() == 0


# -- 2. headers ------------------------------------------------------------------------


@pytest.mark.parametrize("path", ["/login", "/", "/oauth/authorize?client_id=nope"])
def test_clickjacking_pages_refuse_framing(client, path):
    response = client.get(path)
    assert "frame-ancestors 'none'" in response.headers["Content-Security-Policy"]
    assert response.headers["X-Frame-Options"] == "DENY"
    assert response.headers["Referrer-Policy"] == "same-origin"
    assert response.headers["X-Content-Type-Options"] == "nosniff"
    # No script, or only the page's own by its nonce (the passkey button on /login).
    policy = response.headers["Content-Security-Policy"]
    assert "unsafe-inline" not in policy
    assert "script-src" not in policy or re.search(r"script-src 'nonce-[\w-]{22}';", policy)


def test_credentials_are_never_cached(code_tokens, client, web):
    body = code_tokens()
    for response in (
        client.get("/oauth/userinfo", headers={"Authorization": f"Bearer {body['access_token']}"}),
        client.get("/login"),
    ):
        assert response.headers["Cache-Control"] == "no-store"


# -- 3. brute force and enumeration ----------------------------------------------------------


def test_password_guessing_on_login_is_stopped_with_429(app, client, alice, oauth):
    statuses = [oauth.login("alice", f"guess-{i}").status_code for i in range(12)]
    assert statuses[:10] == [401] * 10
    assert statuses[10:] == [429, 429]
    last = oauth.login("alice", PASSWORD)  # even the right password waits now
    assert last.status_code == 429
    assert int(last.headers["Retry-After"]) > 0
    assert last.mimetype == "text/html"
    assert "Too many failed attempts" in last.get_data(True)
    with app.app_context():
        assert db.session.query(AuditEvent).filter_by(tag="login.lockout").count() >= 1


def test_successful_logins_do_not_count_towards_the_limit(client, alice, oauth):
    for _ in range(15):
        assert oauth.login("alice", PASSWORD).status_code == 303
        client.delete_cookie("idp_session")


def test_password_grant_guessing_is_stopped_with_429_json(client, make_client, alice):
    from tests.helpers import basic
    ext = make_client("ext", grant_types=["password"], redirect_uris=[])
    headers = basic("ext", ext.client_secret)
    responses = [client.post("/oauth/token", headers=headers,
                             data={"grant_type": "password", "username": "alice",
                                   "password": f"guess-{i}"}) for i in range(11)]
    assert [r.status_code for r in responses[:10]] == [400] * 10
    assert_json_error(responses[10], 429, "temporarily_unavailable")
    assert int(responses[10].headers["Retry-After"]) > 0


def test_client_secret_guessing_is_stopped_with_429(client, web):
    from tests.helpers import basic
    statuses = [client.post("/oauth/token", data={"grant_type": "client_credentials"},
                            headers=basic("web", f"guess-{i}")).status_code
                for i in range(61)]
    assert statuses[:60] == [401] * 60
    assert statuses[60] == 429


def test_rate_limits_are_stored_in_redis_when_configured(app, make_app):
    app = make_app(REDIS_URL="redis://127.0.0.1:6379/3")
    assert app.config["RATELIMIT_STORAGE_URI"] == "redis://127.0.0.1:6379/3"
    assert app.config["RATELIMIT_IN_MEMORY_FALLBACK_ENABLED"] is True


@pytest.mark.parametrize("username", ["alice", "nobody", "ALICE@EXAMPLE.COM".lower()])
def test_user_enumeration_same_message_status_and_one_argon2_verification(
        client, alice, oauth, monkeypatch, username):
    from idp.security import passwords
    calls = []

    class Counting:
        def __getattr__(self, name):
            return getattr(original, name)

        def verify(self, hash_, password):
            calls.append(hash_)
            return original.verify(hash_, password)

    original = passwords.HASHER
    monkeypatch.setattr(passwords, "HASHER", Counting())
    response = oauth.login(username, "wrong-password")
    assert response.status_code == 401
    assert "Wrong username or password." in response.get_data(True)
    assert len(calls) == 1  # an unknown user costs the same hash as a wrong password


# -- 6. token forgery ------------------------------------------------------------------------


@pytest.fixture
def genuine(app, code_tokens):
    """A genuine ID token and access token for alice, and the server's public RSA key."""
    body = code_tokens()
    with app.app_context():
        rsa_public = keys.signing_key("RS256").as_pem(private=False)
    return body, rsa_public


def forge(kind: str, genuine_token: str, rsa_public: bytes) -> str:
    header_b64, payload_b64, _ = genuine_token.split(".")
    header = json.loads(base64.urlsafe_b64decode(header_b64 + "=="))
    claims = json.loads(base64.urlsafe_b64decode(payload_b64 + "=="))
    if kind == "alg_none":
        return f"{b64({'alg': 'none', 'typ': header.get('typ', 'JWT')})}.{b64(claims)}."
    if kind == "hs256_with_public_key":
        signing_input = f"{b64({**header, 'alg': 'HS256'})}.{b64(claims)}"
        mac = hmac.new(rsa_public, signing_input.encode(), hashlib.sha256).digest()
        return f"{signing_input}.{b64(mac)}"
    if kind == "tampered_payload":
        signature = genuine_token.split(".")[2]
        return f"{header_b64}.{b64({**claims, 'sub': 'someone-else'})}.{signature}"
    foreign = (RSAKey.generate_key(2048) if header["alg"] == "RS256"
               else OKPKey.generate_key("Ed25519"))
    if kind == "foreign_key":
        return jwt.encode({**header, "kid": header["kid"]}, claims, foreign,
                          algorithms=[header["alg"]])
    if kind == "injected_jwk":
        return jwt.encode({**header, "jwk": foreign.as_dict(private=False)}, claims, foreign,
                          algorithms=[header["alg"]])
    if kind == "injected_jku":
        return jwt.encode({**header, "kid": "attacker", "jku": "https://evil.example/jwks"},
                          claims, foreign, algorithms=[header["alg"]])
    if kind == "expired":
        return jwt.encode(header, {**claims, "exp": int(time.time()) - 10}, foreign,
                          algorithms=[header["alg"]])
    raise AssertionError(kind)


FORGERIES = ["alg_none", "hs256_with_public_key", "tampered_payload", "foreign_key",
             "injected_jwk", "injected_jku"]


@pytest.mark.parametrize("kind", FORGERIES)
def test_forged_id_token_hint_is_rejected_at_authorize(client, genuine, kind):
    body, rsa_public = genuine
    forged = forge(kind, body["id_token"], rsa_public)
    got = location_params(client.get("/oauth/authorize", query_string=authorize_params(
        prompt="none", id_token_hint=forged)))
    assert got["error"] == "invalid_request"
    assert "code" not in got


@pytest.mark.parametrize("kind", FORGERIES)
def test_forged_id_token_hint_is_rejected_at_logout_without_redirect(client, genuine, kind):
    body, rsa_public = genuine
    response = client.get("/oauth/logout", query_string={
        "id_token_hint": forge(kind, body["id_token"], rsa_public),
        "post_logout_redirect_uri": "https://rp.example/"})
    assert response.status_code == 400
    assert "Location" not in response.headers


@pytest.fixture
def delegate(make_client):
    return make_client("delegate", grant_types=[EXCHANGE], redirect_uris=[],
                       scope="openid profile email")


@pytest.mark.parametrize("kind", [*FORGERIES, "expired"])
def test_forged_subject_token_is_invalid_grant(client, genuine, delegate, kind, app):
    from tests.helpers import basic
    body, rsa_public = genuine
    before = row_counts(app)
    response = client.post("/oauth/token", headers=basic("delegate", delegate.client_secret),
                           data={"grant_type": EXCHANGE,
                                 "subject_token": forge(kind, body["access_token"], rsa_public),
                                 "subject_token_type": ACCESS_TOKEN_TYPE})
    assert_json_error(response, 400, "invalid_grant")
    assert row_counts(app) == before


@pytest.mark.parametrize("kind", [*FORGERIES, "expired"])
def test_forged_access_token_is_refused_at_userinfo(client, genuine, kind):
    body, rsa_public = genuine
    forged = forge(kind, body["access_token"], rsa_public)
    response = client.get("/oauth/userinfo", headers={"Authorization": f"Bearer {forged}"})
    assert response.status_code == 401


@pytest.mark.parametrize("size", [20_000, 1_000_000])
def test_oversized_jose_input_is_rejected(client, genuine, delegate, size):
    from tests.helpers import basic
    huge = "eyJhbGciOiJFZDI1NTE5In0." + "A" * size + ".sig"
    userinfo = client.get("/oauth/userinfo", headers={"Authorization": f"Bearer {huge}"})
    assert userinfo.status_code in (401, 431, 400)
    exchange = client.post("/oauth/token", headers=basic("delegate", delegate.client_secret),
                           data={"grant_type": EXCHANGE, "subject_token": huge,
                                 "subject_token_type": ACCESS_TOKEN_TYPE})
    assert exchange.status_code in (400, 413)
    assert exchange.get_json()["error"] in {"invalid_grant", "invalid_request"}
    hint = client.get("/oauth/authorize",
                      query_string=authorize_params(prompt="none", id_token_hint=huge[:60_000]))
    assert hint.status_code in (302, 400, 414)


# -- 9. satellite hosts -------------------------------------------------------------------------


@pytest.mark.parametrize("path", ["/oauth/authorize", "/oauth/token", "/oauth/userinfo",
                                  "/oauth/introspect", "/oauth/revoke", "/oauth/logout",
                                  "/.well-known/openid-configuration", "/login", "/consent"])
def test_satellite_domain_is_403_access_denied(client, path):
    for method in ("GET", "POST"):
        response = client.open(path, method=method, headers={"Host": "satellite.example.com"})
        assert response.status_code == 403
        assert response.get_json()["error"] == "access_denied"


def test_allowed_hosts_setting_admits_the_listed_hosts(app, make_app):
    app = make_app(ALLOWED_HOSTS="localhost, id.example.com:8443")
    http = app.test_client()
    assert http.get("/.well-known/jwks.json",
                    headers={"Host": "id.example.com:8443"}).status_code == 200
    assert http.get("/.well-known/jwks.json",
                    headers={"Host": "id.example.com"}).status_code == 403


# -- 10. audit log ---------------------------------------------------------------------------


def test_audit_log_records_who_what_when_where(app, client, alice, oauth, code_tokens, web):
    oauth.login("alice", "wrong-password")
    code_tokens()
    with app.app_context():
        events = {e.tag: e for e in db.session.query(AuditEvent)}
    assert {"login.failure", "login.success", "consent.granted"} <= set(events)
    success = events["login.success"]
    assert success.user_id == alice.id
    assert success.ip == "127.0.0.1"
    assert success.at <= time.time()
    assert events["consent.granted"].client_id == "web"


def test_login_page_works_for_the_attacker_too(oauth):
    # The limits and checks above must not break the ordinary page.
    assert OAuthClient(oauth.http).http.get("/login").status_code == 200


def test_oversized_body_does_not_knock_the_limiter_off_its_storage(client, web):
    from idp.extensions import limiter
    response = client.post("/oauth/token", data={"grant_type": "password",
                                                 "username": "u" * 70_000})
    assert response.status_code == 413
    assert not limiter._storage_dead  # a key function that raised would have switched storage


@pytest.mark.parametrize("response_type", [None, "token", "é"])
def test_unknown_client_is_401_whatever_else_is_wrong(client, response_type):
    query = {"client_id": "ghost", "redirect_uri": "https://rp.example/cb"}
    if response_type:
        query["response_type"] = response_type
    response = client.get("/oauth/authorize", query_string=query,
                          headers={"Accept": "application/json"})
    assert response.status_code in (400, 401)
    assert "Location" not in response.headers
    if response_type != "é":  # that one is refused before the client is looked at
        assert response.status_code == 401
        assert response.get_json()["error"] == "invalid_client"
