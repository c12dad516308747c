"""The bad-input matrix: every endpoint, every kind of malformed request.

Each answer is a clear error in the endpoint's format with the right status,
never a 5xx, and nothing is written to the database.
"""

from __future__ import annotations

import pytest

from idp.extensions import db
from idp.models import AuditEvent, AuthorizationCode, Consent, Grant, LoginSession, RevokedToken
from tests.helpers import basic

MACHINE = ["/oauth/token", "/oauth/introspect", "/oauth/revoke"]
PAGES = ["/login", "/consent", "/select-org", "/logout", "/oauth/authorize"]
EVERYTHING = [*MACHINE, *PAGES, "/oauth/userinfo", "/oauth/logout",
              "/.well-known/openid-configuration", "/.well-known/jwks.json", "/healthz",
              "/account"]


@pytest.fixture
def snapshot(app):
    def counts():
        with app.app_context():
            return {m.__tablename__: db.session.query(m).count()
                    for m in (Grant, RevokedToken, AuthorizationCode, LoginSession,
                                      Consent)}
    return counts


@pytest.fixture
def auth(web):
    return basic("web", web.client_secret)


def assert_clean_error(response, status: int | tuple[int, ...]):
    statuses = (status,) if isinstance(status, int) else status
    assert response.status_code in statuses, (response.status_code, response.get_data(True))
    assert response.status_code < 500


@pytest.mark.parametrize("path", MACHINE)
def test_repeated_parameters_are_invalid_request(client, auth, snapshot, path):
    before = snapshot()
    response = client.post(path, headers=auth,
                           data="grant_type=client_credentials&token=a&token=b"
                                "&grant_type=client_credentials",
                           content_type="application/x-www-form-urlencoded")
    assert_clean_error(response, 400)
    assert response.get_json()["error"] == "invalid_request"
    assert "more than once" in response.get_json()["error_description"]
    assert snapshot() == before


@pytest.mark.parametrize("path", MACHINE)
@pytest.mark.parametrize("content_type", ["application/json", "text/plain",
                                          "multipart/form-data; boundary=x", None])
def test_json_and_other_bodies_where_a_form_is_expected(client, auth, snapshot, path,
                                                        content_type):
    before = snapshot()
    headers = dict(auth)
    if content_type:
        headers["Content-Type"] = content_type
    response = client.post(path, headers=headers,
                           data='{"grant_type": "client_credentials", "token": "x"}')
    assert_clean_error(response, 400)
    assert response.get_json()["error"] == "invalid_request"
    assert snapshot() == before


@pytest.mark.parametrize("path", [*MACHINE, "/oauth/userinfo", "/login", "/oauth/authorize"])
def test_a_megabyte_body_is_413(client, auth, snapshot, path):
    before = snapshot()
    response = client.post(path, headers=auth,
                           data={"grant_type": "password", "username": "u" * 1_000_000})
    assert_clean_error(response, 413)
    if path in MACHINE:
        assert response.get_json()["error"] == "invalid_request"
    assert snapshot() == before


def test_a_megabyte_authorization_parameter_is_refused_without_redirect(client, web):
    response = client.get("/oauth/authorize", query_string={
        "response_type": "code", "client_id": "web", "redirect_uri": "https://rp.example/callback",
        "state": "s" * 1_000_000})
    assert_clean_error(response, 400)
    assert "Location" not in response.headers


@pytest.mark.parametrize("path", MACHINE)
def test_non_utf8_bytes(client, auth, snapshot, path):
    before = snapshot()
    response = client.post(path, headers=auth, content_type="application/x-www-form-urlencoded",
                           data=b"grant_type=client_credentials&scope=\xff\xfe%ff&token=\xc3\x28")
    assert_clean_error(response, (200, 400))
    assert response.is_json
    if path == "/oauth/token":
        assert snapshot() == before


def test_non_utf8_bytes_on_pages(client):
    for path in ("/login", "/oauth/authorize"):
        response = client.post(path, content_type="application/x-www-form-urlencoded",
                               data=b"username=\xff\xfe&password=\xc3\x28&client_id=\xff")
        assert_clean_error(response, (400, 401))
    response = client.get("/oauth/authorize?client_id=%ff%fe&redirect_uri=%c3%28")
    assert_clean_error(response, (400, 401))


@pytest.mark.parametrize(("path", "method"), [
    ("/oauth/token", "GET"), ("/oauth/token", "PUT"), ("/oauth/introspect", "DELETE"),
    ("/oauth/revoke", "PATCH"), ("/oauth/userinfo", "PUT"), ("/.well-known/jwks.json", "POST"),
    ("/healthz", "POST"),
])
def test_unknown_methods_on_machine_endpoints_are_405_json(client, path, method):
    response = client.open(path, method=method)
    assert_clean_error(response, 405)
    assert response.get_json()["error"] == "invalid_request"
    assert response.headers["Allow"]


@pytest.mark.parametrize(("path", "method"), [("/login", "DELETE"), ("/consent", "PUT"),
                                              ("/account", "PATCH")])
def test_unknown_methods_on_pages_are_405_pages(client, path, method):
    response = client.open(path, method=method)
    assert_clean_error(response, 405)
    assert response.mimetype == "text/html"


@pytest.mark.parametrize("path", MACHINE)
def test_missing_fields_are_clear_errors(client, auth, path):
    response = client.post(path, headers=auth, data={})
    assert_clean_error(response, 400)
    body = response.get_json()
    assert body["error"] in {"invalid_request", "unsupported_grant_type"}
    assert body["error_description"]


@pytest.mark.parametrize("data", [
    {"grant_type": "authorization_code"},
    {"grant_type": "authorization_code", "code": "x"},
    {"grant_type": "refresh_token"},
    {"grant_type": "password", "username": "a"},
    {"grant_type": "client_delegate"},
    {"grant_type": "urn:ietf:params:oauth:grant-type:token-exchange", "subject_token": "x"},
    {"grant_type": "client_credentials", "scope": "\x00\x01"},
    {"grant_type": "client_credentials", "accessTokenValiditySeconds": "9" * 400},
    {"grant_type": "refresh_token", "refresh_token": "\u202e" * 100},
])
def test_wrong_or_missing_grant_fields_never_5xx(client, make_client, data, snapshot):
    every = make_client("every", grant_types=["authorization_code", "refresh_token", "password",
                                              "client_credentials", "client_delegate",
                                              "urn:ietf:params:oauth:grant-type:token-exchange"])
    before = snapshot()
    response = client.post("/oauth/token", data=data,
                           headers=basic("every", every.client_secret))
    assert response.status_code < 500
    assert response.is_json
    if response.status_code != 200:
        assert response.get_json()["error"]
        assert snapshot() == before


@pytest.mark.parametrize("path", EVERYTHING)
def test_hostile_query_strings_never_5xx(client, path):
    for query in ("%", "a=%zz", "=&=&", "a[]=1&a[x]=2", "x=" + "%00" * 50,
                  "client_id=../../etc/passwd", "redirect_uri=javascript:alert(1)"):
        response = client.get(f"{path}?{query}")
        assert response.status_code < 500, (path, query, response.status_code)


def test_bad_authorization_header_shapes(client, web):
    for header in ("Basic", "Basic !!!", "Basic " + "QQ==", "Basic Og==", "Bearer x",
                   "Basic " + "A" * 10_000, "Digest x"):
        response = client.post("/oauth/token", data={"grant_type": "client_credentials"},
                               headers={"Authorization": header})
        assert response.status_code in (400, 401), (header, response.status_code)
        assert response.get_json()["error"] in {"invalid_client", "invalid_request"}


def test_nothing_is_audited_as_success_for_bad_input(app, client, auth):
    client.post("/oauth/token", headers=auth, data={"grant_type": "nope"})
    with app.app_context():
        assert db.session.query(AuditEvent).filter(AuditEvent.tag.like("%success%")).count() == 0


# PostgreSQL refuses a NUL character in any text value; no column here may hold one.
@pytest.mark.parametrize("url", [
    "/login/mfa?interaction=%00", "/login?interaction=a%00b", "/upstream/x%00/callback",
    "/upstream/company/callback?state=%00&code=x", "/account/mfa?interaction=%00",
    "/oauth/authorize?client_id=web%00",
])
def test_a_nul_character_in_the_path_or_query_is_400(client, url):
    for accept in ("text/html", "application/json"):
        response = client.get(url, headers={"Accept": accept})
        assert_clean_error(response, 400)
        assert "NUL character" in response.get_data(True)


def test_a_nul_character_in_a_form_never_reaches_the_database_as_a_500(client, alice):
    from tests.conftest import PG_URL
    from tests.helpers import csrf_token

    page = client.get("/login").get_data(True)
    response = client.post("/login", data={"username": "ali\x00ce", "password": "x",
                                           "csrf_token": csrf_token(page)})
    # SQLite compares it like any character (no such user); PostgreSQL refuses it.
    assert_clean_error(response, 400 if PG_URL else 401)
