"""The client_credentials path in front of Flask (``idp/oauth/fast_token.py``).

It must answer exactly what the Flask view answers, and hand every other
request, and every failure, to Flask unchanged.
"""

from __future__ import annotations

import pytest
from werkzeug.test import Client as WsgiClient

from idp.extensions import db

from ..helpers import ISSUER, assert_json_error, basic, verify_jwt

CC = {"grant_type": "client_credentials"}


@pytest.fixture
def app(make_app):
    return make_app(CLIENT_CACHE_SECONDS=30, RATE_LIMIT_TOKEN_IP="3/minute")


@pytest.fixture
def service(make_client, make_org):
    make_org("acme")
    return make_client("svc", grant_types=["client_credentials"], redirect_uris=[],
                       scope="api:read api:write", org="acme")


@pytest.fixture
def flask_calls(app, monkeypatch):
    """Token requests that reached Flask."""
    calls: list[str] = []
    inner = app.wsgi_app.next

    def counted(environ, start_response):
        if environ["PATH_INFO"] == "/oauth/token":
            calls.append(environ["PATH_INFO"])
        return inner(environ, start_response)

    monkeypatch.setattr(app.wsgi_app, "next", counted)
    return calls


@pytest.fixture
def warm(client, service, flask_calls):
    """The client is in the process's cache (its first request went through Flask)."""
    response = client.post("/oauth/token", data=CC, headers=basic("svc", service.client_secret))
    assert response.status_code == 200
    assert flask_calls == ["/oauth/token"]
    flask_calls.clear()
    return service


def rows_in_every_table(app) -> dict[str, int]:
    with app.app_context():
        return {table.name: len(db.session.execute(table.select()).all())
                for table in db.metadata.sorted_tables}


def verified(client, response) -> tuple[dict, dict, dict]:
    assert response.status_code == 200, response.get_data(True)
    body = response.get_json()
    jwks = client.get("/.well-known/jwks.json").get_json()
    header, claims = verify_jwt(body["access_token"], jwks, ["Ed25519"])
    return body, header, claims


def test_a_plain_request_never_reaches_flask_and_writes_nothing(app, client, warm,
                                                               flask_calls):
    before = rows_in_every_table(app)
    response = client.post("/oauth/token", data={**CC, "scope": "api:read"},
                           headers=basic("svc", warm.client_secret))
    body, header, claims = verified(client, response)
    assert flask_calls == []
    assert header["typ"] == "at+jwt"
    assert claims["iss"] == ISSUER
    assert claims["sub"] == claims["aud"] == claims["client_id"] == "svc"
    assert claims["scope"] == body["scope"] == "api:read"
    assert claims["exp"] - claims["iat"] == body["expires_in"] == 300
    assert claims["org_id"]
    assert "refresh_token" not in body
    assert "id_token" not in body
    assert "grant_id" not in claims  # it hangs on its client alone
    assert rows_in_every_table(app) == before  # self-contained: nothing recorded


@pytest.mark.parametrize("form", [CC, {**CC, "scope": "api:write api:read"},
                                  {**CC, "scope": "api:read nonsense"}])
def test_the_same_answer_as_flask(app, client, warm, flask_calls, form):
    headers = basic("svc", warm.client_secret)
    fast = client.post("/oauth/token", data=form, headers=headers)
    slow = WsgiClient(app.wsgi_app.next).post("/oauth/token", data=form, headers=headers)
    assert flask_calls == ["/oauth/token"]  # the second one only
    fast_body, fast_header, fast_claims = verified(client, fast)
    slow_body, slow_header, slow_claims = verified(client, slow)

    def without(headers, *names):
        return sorted((k, v) for k, v in headers.items() if k not in names)

    assert fast.status == slow.status
    # Flask-Login reads the session after every Flask response, hence Flask's
    # "Vary: Cookie"; a token answer depends on no cookie.
    assert without(fast.headers, "Content-Length") == \
        without(slow.headers, "Content-Length", "Vary")
    assert {k: v for k, v in fast_body.items() if k != "access_token"} == \
        {k: v for k, v in slow_body.items() if k != "access_token"}
    assert fast.data.replace(fast_body["access_token"].encode(), b"T") == \
        slow.data.replace(slow_body["access_token"].encode(), b"T")
    assert fast_header == slow_header
    moving = ("jti", "iat", "exp")
    assert {k: v for k, v in fast_claims.items() if k not in moving} == \
        {k: v for k, v in slow_claims.items() if k not in moving}


@pytest.mark.parametrize(("form", "headers", "status", "error"), [
    (CC, "wrong", 401, "invalid_client"),
    # Registered for client_secret_basic: the body is not its method (RFC 7591 §2).
    ({**CC, "client_id": "svc", "client_secret": "SECRET"}, None, 401, "invalid_client"),
    ({**CC, "orgId": "nope"}, "basic", 400, "invalid_request"),
    ({**CC, "scope": "openid"}, "basic", 400, "invalid_scope"),
    ({**CC, "accessTokenValiditySeconds": "60"}, "basic", 200, None),
    ({"grant_type": "password", "username": "x", "password": "y"}, "basic", 400,
     "unauthorized_client"),
    ("grant_type=client_credentials&grant_type=client_credentials", "basic", 400,
     "invalid_request"),
    ("grant_type=client_credentials&scope=api%FF", "basic", 400, "invalid_scope"),
])
def test_anything_else_goes_to_flask(client, warm, flask_calls, form, headers, status, error):
    secret = warm.client_secret
    if isinstance(form, dict) and form.get("client_secret") == "SECRET":
        form = {**form, "client_secret": secret}
    sent = {"basic": basic("svc", secret), "wrong": basic("svc", "not-the-secret"),
            None: {}}[headers]
    kwargs = {"data": form}
    if isinstance(form, str):
        kwargs = {"data": form, "content_type": "application/x-www-form-urlencoded"}
    response = client.post("/oauth/token", headers=sent, **kwargs)
    assert flask_calls == ["/oauth/token"]
    if error:
        assert_json_error(response, status, error)
    else:
        body, _, claims = verified(client, response)
        if "accessTokenValiditySeconds" in form:
            assert body["expires_in"] == 60 == claims["exp"] - claims["iat"]


@pytest.mark.parametrize(("query", "body"), [
    ("scope=api:write", {**CC, "scope": "api:read"}),
    ("scope=nonsense", CC),
    ("grant_type=password", CC),
])
def test_a_query_string_goes_to_flask_and_is_refused(client, warm, flask_calls, query, body):
    """Parameters belong in the body (RFC 6749 §3.2); Flask refuses the request whole."""
    response = client.post(f"/oauth/token?{query}", data=body,
                           headers=basic("svc", warm.client_secret))
    assert flask_calls == ["/oauth/token"]
    assert_json_error(response, 400, "invalid_request")


def test_other_hosts_content_types_and_large_bodies_go_to_flask(client, warm, flask_calls):
    headers = basic("svc", warm.client_secret)
    foreign = client.post("/oauth/token", data=CC, headers=headers,
                          base_url="http://elsewhere.example")
    assert_json_error(foreign, 403, "access_denied")
    as_json = client.post("/oauth/token", json=CC, headers=headers)
    assert_json_error(as_json, 400, "invalid_request")
    padded = client.post("/oauth/token", data={**CC, "scope": "api:read " * 200},
                         headers=headers)
    verified(client, padded)
    assert flask_calls == ["/oauth/token"] * 3


def test_an_uncached_client_goes_to_flask(client, service, flask_calls):
    response = client.post("/oauth/token", data=CC, headers=basic("svc", service.client_secret))
    verified(client, response)
    assert flask_calls == ["/oauth/token"]


def test_an_address_over_its_failure_limit_is_refused(client, warm, flask_calls):
    good, bad = basic("svc", warm.client_secret), basic("svc", "wrong")
    verified(client, client.post("/oauth/token", data=CC, headers=good))
    assert flask_calls == []
    for _ in range(3):
        assert client.post("/oauth/token", data=CC, headers=bad).status_code == 401
    refused = client.post("/oauth/token", data=CC, headers=good)
    assert_json_error(refused, 429, "temporarily_unavailable")
    assert refused.headers["Retry-After"]
    assert flask_calls == ["/oauth/token"] * 4


def test_anything_that_raises_leaves_the_request_to_flask(app, client, warm, flask_calls,
                                                         monkeypatch, caplog):
    from idp.oauth import tokens

    real_issue = tokens.issue
    calls = []

    def broken_once(**kwargs):
        calls.append(1)
        if len(calls) == 1:
            raise RuntimeError("no current Ed25519 signing key")
        return real_issue(**kwargs)

    monkeypatch.setattr(tokens, "issue", broken_once)
    response = client.post("/oauth/token", data=CC, headers=basic("svc", warm.client_secret))
    verified(client, response)
    assert flask_calls == ["/oauth/token"]
    assert "fast token path failed" in caplog.text


def test_its_tokens_introspect_and_revoke(client, warm, flask_calls):
    headers = basic("svc", warm.client_secret)
    token = client.post("/oauth/token", data=CC, headers=headers).get_json()["access_token"]
    active = client.post("/oauth/introspect", data={"token": token}, headers=headers)
    assert active.get_json()["active"] is True
    assert active.get_json()["sub"] == "svc"
    assert client.post("/oauth/revoke", data={"token": token}, headers=headers).status_code == 200
    after = client.post("/oauth/introspect", data={"token": token}, headers=headers)
    assert after.get_json() == {"active": False}


# -- the same rule both ways -----------------------------------------------------------------


SECRETS = {"ok": "ok-client-secret-0123456789abcdefghijk",
           "off": "off-client-secret-0123456789abcdefghij",
           "no-grant": "no-grant-secret-0123456789abcdefghijk",
           "bound": "bound-client-secret-0123456789abcdefgh"}


def _registered(app) -> None:
    """The same organizations, API and clients in ``app``'s database (on PostgreSQL the
    apps share one database: made once)."""
    from idp.services import apis, clients, orgs

    with app.app_context():
        if orgs.find_org("north") is not None:
            return
        orgs.create_org("north", "North")
        orgs.create_org("south", "South")
        apis.create_api("https://orders.example", "Orders", "orders:read")
        clients.create_client("OK", client_id="ok", client_secret=SECRETS["ok"],
                              grant_types=["client_credentials"], scope="api:read orders:read",
                              default_api="https://orders.example")
        off = clients.create_client("Off", client_id="off", client_secret=SECRETS["off"],
                                    grant_types=["client_credentials"])
        clients.set_disabled(off.client, True)
        clients.create_client("No grant", client_id="no-grant",
                              client_secret=SECRETS["no-grant"],
                              grant_types=["authorization_code"],
                              redirect_uris=["https://x.example/cb"])
        clients.create_client("Bound", client_id="bound", client_secret=SECRETS["bound"],
                              org="north", grant_types=["client_credentials"], scope="api:read")
        db.session.commit()


@pytest.fixture
def both(make_app):
    """The fast path on (the production client cache) and off (no cache: every request
    goes to Flask and Authlib), each app with the same registrations."""
    fast, slow = make_app(CLIENT_CACHE_SECONDS=30), make_app(CLIENT_CACHE_SECONDS=0)
    for app in (fast, slow):
        _registered(app)
    return fast, slow


CASES = [
    ("disabled client", "off", {}),
    ("grant not registered", "no-grant", {}),
    ("scope not allowed", "ok", {"scope": "admin:everything"}),
    ("another organization", "bound", {"orgId": "south"}),
    ("unknown organization", "bound", {"orgId": "nowhere"}),
    ("wrong secret", "ok", {"_secret": "not the secret at all, but long enough"}),
    ("granted, with the default API", "ok", {}),
    ("granted, a narrower scope", "ok", {"scope": "orders:read"}),
    ("granted, bound", "bound", {}),
]


def _comparable(app, client, response) -> tuple[int, dict]:
    body = response.get_json()
    if response.status_code != 200:
        return response.status_code, body
    jwks = client.get("/.well-known/jwks.json").get_json()
    header, claims = verify_jwt(body["access_token"], jwks, ["Ed25519", "RS256", "ES256"])
    for moving in ("jti", "iat", "exp", "nbf"):
        claims.pop(moving, None)
    if "org_id" in claims:  # each app's database names the organization its own way
        from idp.services import orgs

        with app.app_context():
            claims["org_id"] = orgs.find_org(claims["org_id"]).slug
    return 200, {"body": {k: v for k, v in body.items() if k != "access_token"},
                 "alg": header["alg"], "claims": claims}


@pytest.mark.parametrize(("case", "client_id", "extra"), CASES, ids=[c[0] for c in CASES])
def test_both_paths_give_the_same_answer(both, monkeypatch, case, client_id, extra):
    fast, slow = both
    extra = dict(extra)
    secret = extra.pop("_secret", None) or SECRETS[client_id]
    reached_flask = []
    inner = fast.wsgi_app.next
    monkeypatch.setattr(fast.wsgi_app, "next", lambda environ, start: (
        reached_flask.append(environ["PATH_INFO"]), inner(environ, start))[1])
    answers = []
    for app in (fast, slow):
        http = app.test_client()
        http.post("/oauth/token", data=CC, headers=basic("ok", SECRETS["ok"]))  # cache "ok"
        if client_id != "ok":
            http.post("/oauth/token", data=CC, headers=basic(client_id, SECRETS[client_id]))
        reached_flask.clear()
        response = http.post("/oauth/token", data={**CC, **extra},
                             headers=basic(client_id, secret))
        if app is fast:
            fast_path_answered = not reached_flask
        answers.append(_comparable(app, http, response))
    assert answers[0] == answers[1], case
    if case.startswith("granted"):
        assert answers[0][0] == 200
        assert fast_path_answered, case  # a plain request never reaches Flask
    else:
        assert answers[0][0] in (400, 401)
        assert not fast_path_answered, case
