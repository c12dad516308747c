"""The client_credentials path in front of Flask (``idp/oauth/fast_token.py``).

It must answer exactly what the Flask view answers, and hand every other
request, and every failure, to Flask unchanged.
"""

from __future__ import annotations

import threading
import time

import pytest
from sqlalchemy import select
from werkzeug.test import Client as WsgiClient

from idp.extensions import db
from idp.models import Token
from idp.oauth.group_commit import GroupCommit

from ..helpers import ISSUER, assert_json_error, basic, verify_jwt

CC = {"grant_type": "client_credentials"}


@pytest.fixture
def app(make_app):
    app = make_app(CLIENT_CACHE_SECONDS=30, RATE_LIMIT_TOKEN_IP="3/minute")
    yield app
    if app.wsgi_app.writer is not None:
        app.wsgi_app.writer.close()


@pytest.fixture
def writer(app):
    with app.app_context():
        writer = GroupCommit(db.engine, app.extensions["idp.write_lock"])
    yield writer
    writer.close()


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


def rows(app) -> dict[str, Token]:
    with app.app_context():
        return {row.jti: row for row in db.session.scalars(select(Token))}


def verified(client, response) -> tuple[dict, dict, dict]:
    assert response.status_code == 200, response.get_data(True)
    body = response.get_json()
    jwks = client.get("/.well-known/jwks.json").get_json()
    header, claims = verify_jwt(body["access_token"], jwks, ["Ed25519"])
    return body, header, claims


def test_a_plain_request_never_reaches_flask(app, client, warm, flask_calls):
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
    row = rows(app)[claims["jti"]]  # recorded, committed, before the answer
    assert (row.client_id, row.user_id, row.grant_type, row.scope, row.org_id) == (
        "svc", None, "client_credentials", "api:read", claims["org_id"])
    assert (row.issued_at, row.expires_at) == (claims["iat"], claims["exp"])
    assert row.family_id
    assert row.refresh_digest is None
    assert row.revoked_at is None


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
    saved = rows(app)
    columns = [c.key for c in Token.__table__.columns
               if c.key not in ("jti", "family_id", "issued_at", "expires_at")]
    fast_row, slow_row = saved[fast_claims["jti"]], saved[slow_claims["jti"]]
    assert [getattr(fast_row, c) for c in columns] == [getattr(slow_row, c) for c in columns]


@pytest.mark.parametrize(("form", "headers", "status", "error"), [
    (CC, "wrong", 401, "invalid_client"),
    ({**CC, "client_id": "svc", "client_secret": "SECRET"}, None, 200, None),
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


@pytest.mark.parametrize(("query", "body", "status", "error"), [
    ("scope=api:write", {**CC, "scope": "api:read"}, 200, None),
    ("scope=nonsense", CC, 400, "invalid_scope"),
    ("grant_type=password", CC, 400, "unauthorized_client"),
])
def test_a_query_string_goes_to_flask(client, warm, flask_calls, query, body, status, error):
    """Authlib reads the query string too (it wins over the body): Flask decides."""
    response = client.post(f"/oauth/token?{query}", data=body,
                           headers=basic("svc", warm.client_secret))
    assert flask_calls == ["/oauth/token"]
    if error:
        assert_json_error(response, status, error)
    else:
        assert verified(client, response)[0]["scope"] == "api:write"


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


def test_a_failed_commit_leaves_the_request_to_flask(app, client, warm, flask_calls,
                                                     monkeypatch):
    monkeypatch.setattr(GroupCommit, "insert", lambda self, row: False)
    response = client.post("/oauth/token", data=CC, headers=basic("svc", warm.client_secret))
    _, _, claims = verified(client, response)
    assert flask_calls == ["/oauth/token"]
    assert set(rows(app)) >= {claims["jti"]}  # the row Flask's answer recorded


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


# -- group commit ----------------------------------------------------------------


def token_row(jti: str) -> dict:
    return {"jti": jti, "family_id": jti, "client_id": "svc", "user_id": None,
            "grant_type": "client_credentials", "scope": "api:read",
            "granted_scope": "api:read", "org_id": None, "sid": None, "auth_time": None,
            "actor": None, "issued_at": 1, "expires_at": 2}


def held_first_commit(monkeypatch, writer, waiting: int) -> list[list[str]]:
    """Make the first commit wait until ``waiting`` more rows are queued behind it;
    returns the jtis of each commit, in order."""
    batches: list[list[str]] = []
    real = GroupCommit._commit

    def commit(self, rows):
        batches.append([r["jti"] for r in rows])
        if len(batches) == 1:
            deadline = time.monotonic() + 10
            while len(writer._queue) < waiting and time.monotonic() < deadline:
                time.sleep(0.005)
        return real(self, rows)

    monkeypatch.setattr(GroupCommit, "_commit", commit)
    return batches


def insert_all(writer, jtis) -> dict[str, bool]:
    results: dict[str, bool] = {}

    def insert(jti: str) -> None:
        results[jti] = writer.insert(token_row(jti))

    threads = [threading.Thread(target=insert, args=(jti,)) for jti in jtis]
    for t in threads:
        t.start()
        time.sleep(0.01)  # the first is committing before the others queue
    for t in threads:
        t.join()
    return results


def test_rows_queued_during_a_commit_share_the_next_one(app, service, writer, monkeypatch):
    batches = held_first_commit(monkeypatch, writer, waiting=5)
    results = insert_all(writer, [f"t{n}" for n in range(6)])
    assert results == {f"t{n}": True for n in range(6)}
    assert batches[0] == ["t0"]
    assert sorted(batches[1]) == [f"t{n}" for n in range(1, 6)]  # one commit for five
    assert {f"t{n}" for n in range(6)} <= set(rows(app))


def test_a_failed_batch_fails_every_row_of_it_and_keeps_none(app, service, writer,
                                                             monkeypatch):
    assert writer.insert(token_row("taken"))
    batches = held_first_commit(monkeypatch, writer, waiting=3)
    results = insert_all(writer, ["first", "a", "taken", "b"])  # "taken" is a duplicate
    assert sorted(batches[1]) == ["a", "b", "taken"]
    assert results == {"first": True, "a": False, "taken": False, "b": False}
    saved = set(rows(app))
    assert "first" in saved
    assert not {"a", "b"} & saved
    assert writer.insert(token_row("later"))  # a new connection after the failure
    assert "later" in set(rows(app))


def test_an_error_outside_the_driver_fails_the_batch_too(app, service, writer, monkeypatch):
    def broken(*args):
        raise OSError("no locks")

    monkeypatch.setattr(writer.lock, "held", broken)
    assert writer.insert(token_row("lost")) is False
    assert "lost" not in set(rows(app))
