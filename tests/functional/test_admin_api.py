"""The admin API: who may call it, each object's routes, versions, problems, audit.

Tokens are real: a client_credentials client registered with ``idp:admin``, and
an administrator's own token from the password grant; each is verified.
"""

from __future__ import annotations

import csv
import io
import json
import logging

import pytest
from sqlalchemy import select

from idp.extensions import db
from idp.models import AuditEvent, LoginSession, User

from ..helpers import ISSUER, PASSWORD, OAuthClient, Tokens, verify_jwt

API = "/admin/api/v1"


@pytest.fixture
def admin_client(make_client):
    return make_client("ops-robot", grant_types=["client_credentials"], redirect_uris=[],
                       scope="idp:admin")


@pytest.fixture
def token(client, admin_client) -> str:
    body = Tokens(client).ok({"grant_type": "client_credentials", "scope": "idp:admin"},
                             "ops-robot", admin_client.client_secret)
    assert body["scope"] == "idp:admin"
    return body["access_token"]


class Admin:
    def __init__(self, http, token: str) -> None:
        self.http, self.token = http, token

    def call(self, method: str, path: str, body=None, **headers):
        headers = {"Authorization": f"Bearer {self.token}", **headers}
        return self.http.open(API + path, method=method, headers=headers,
                              json=body if body is not None else None)

    def ok(self, method: str, path: str, body=None, status: int = 200, **headers):
        response = self.call(method, path, body, **headers)
        assert response.status_code == status, (response.status_code, response.get_data(True))
        return response


@pytest.fixture
def admin(client, token) -> Admin:
    return Admin(client, token)


def problem(response, status: int) -> dict:
    assert response.status_code == status, response.get_data(True)
    assert response.mimetype == "application/problem+json"
    body = response.get_json()
    assert body["status"] == status
    assert body["title"]
    assert body["detail"]
    return body


def actors(app, tag: str) -> list:
    with app.app_context():
        return [e.details.get("actor") for e in db.session.scalars(
            select(AuditEvent).where(AuditEvent.tag == tag))]


# -- who may call it -------------------------------------------------------------------------


def test_no_token_or_a_bad_one_is_401_problem(client):
    answer = client.get(f"{API}/users")
    problem(answer, 401)
    assert answer.headers["WWW-Authenticate"].startswith("Bearer")
    problem(client.get(f"{API}/users", headers={"Authorization": "Bearer nonsense"}), 401)


def test_a_token_without_the_scope_is_403(client, make_client):
    robot = make_client("robot", grant_types=["client_credentials"], redirect_uris=[],
                        scope="openid")
    body = Tokens(client).ok({"grant_type": "client_credentials"}, "robot", robot.client_secret)
    answer = client.get(f"{API}/users", headers={"Authorization": f"Bearer {body['access_token']}"})
    problem(answer, 403)
    assert 'scope="idp:admin"' in answer.headers["WWW-Authenticate"]


def test_the_scope_is_granted_to_admin_users_only(client, make_client, make_user):
    make_client("console", grant_types=["password"], redirect_uris=[],
                scope="openid idp:admin", client_secret="console-secret-0123456789abcdefghij")
    make_user("boss", admin=True)
    make_user("worker")
    tokens = Tokens(client)
    boss = tokens.ok({"grant_type": "password", "username": "boss", "password": PASSWORD,
                      "scope": "openid idp:admin"}, "console",
                     "console-secret-0123456789abcdefghij")
    assert boss["scope"] == "openid idp:admin"
    worker = tokens.ok({"grant_type": "password", "username": "worker", "password": PASSWORD,
                        "scope": "openid idp:admin"}, "console",
                       "console-secret-0123456789abcdefghij")
    assert worker["scope"] == "openid"  # never granted
    only = tokens.post({"grant_type": "password", "username": "worker", "password": PASSWORD,
                        "scope": "idp:admin"}, "console", "console-secret-0123456789abcdefghij")
    assert only.status_code == 400
    assert only.get_json()["error"] == "invalid_scope"
    assert client.get(f"{API}/users", headers={
        "Authorization": f"Bearer {boss['access_token']}"}).status_code == 200
    problem(client.get(f"{API}/users", headers={
        "Authorization": f"Bearer {worker['access_token']}"}), 403)


def test_an_admin_who_loses_the_flag_is_refused_at_once(client, app, make_client, make_user):
    make_client("console", grant_types=["password"], redirect_uris=[],
                scope="idp:admin", client_secret="console-secret-0123456789abcdefghij")
    boss = make_user("boss", admin=True)
    make_user("other-admin", admin=True)
    body = Tokens(client).ok({"grant_type": "password", "username": "boss",
                              "password": PASSWORD}, "console",
                             "console-secret-0123456789abcdefghij")
    with app.app_context():
        db.session.get(User, boss.id).admin = False
        db.session.commit()
    problem(client.get(f"{API}/users",
                       headers={"Authorization": f"Bearer {body['access_token']}"}), 403)


# -- users -----------------------------------------------------------------------------------


def test_users_are_created_listed_searched_and_shown(admin, app):
    made = admin.ok("POST", "/users", {"username": "dana", "email": "Dana@Example.com",
                                       "password": "a long enough password", "given_name":
                                       "Dana"}, status=201)
    body = made.get_json()
    assert body["email"] == "dana@example.com"
    assert body["has_password"] is True
    assert made.headers["ETag"] == '"1"'
    assert made.headers["Location"] == f"{API}/users/{body['id']}"
    assert "password_hash" not in json.dumps(body)
    admin.ok("POST", "/users", {"username": "eve", "email": "eve@example.com"}, status=201)
    listed = admin.ok("GET", "/users?q=dan").get_json()
    assert [u["username"] for u in listed["items"]] == ["dana"]
    assert listed["total"] == 1
    page = admin.ok("GET", "/users?limit=1&offset=1").get_json()
    assert (page["total"], page["limit"], page["offset"], len(page["items"])) == (2, 1, 1, 1)
    shown = admin.ok("GET", f"/users/{body['id']}").get_json()
    assert shown["memberships"] == []
    assert shown["linked_identities"] == []
    assert actors(app, "user.created") == ["client:ops-robot", "client:ops-robot"]


@pytest.mark.parametrize(("body", "field"), [
    ({"username": "bad name", "email": "x@example.com"}, "username"),
    ({"username": "ok", "email": "not-an-email"}, "email"),
    ({"username": "ok", "email": "ok@example.com", "colour": "red"}, "colour"),
    ({"email": "ok@example.com"}, "username"),
    ({"username": "ok", "email": "ok@example.com", "admin": "yes"}, "admin"),
])
def test_bad_users_are_problems(admin, body, field):
    answer = admin.call("POST", "/users", body)
    details = problem(answer, 422)
    assert details["errors"][0]["field"] == field


def test_a_taken_username_is_a_409_naming_the_field(admin, make_user):
    make_user("taken")
    details = problem(admin.call("POST", "/users", {"username": "taken",
                                                    "email": "other@example.com"}), 409)
    assert details["errors"] == [{"field": "username",
                                  "detail": "a user with username 'taken' exists"}]


def test_a_user_is_edited_with_if_match_and_metadata_is_checked(admin, app, make_user):
    user = make_user("frank")
    path = f"/users/{user.id}"
    etag = admin.ok("GET", path).headers["ETag"]
    problem(admin.call("PATCH", path, {"given_name": "Frank"}), 428)
    problem(admin.call("PATCH", path, {"given_name": "Frank"}, **{"If-Match": '"99"'}), 412)
    edited = admin.ok("PATCH", path, {"given_name": "Frank", "public_metadata": {"tier": 2}},
                      **{"If-Match": etag})
    assert edited.get_json()["public_metadata"] == {"tier": 2}
    assert edited.headers["ETag"] == '"2"'
    # The old ETag is stale now: a second edit made against it is refused.
    problem(admin.call("PATCH", path, {"family_name": "Stale"}, **{"If-Match": etag}), 412)
    bad = problem(admin.call("PATCH", path, {"private_metadata": [1, 2]},
                             **{"If-Match": '"2"'}), 422)
    assert bad["errors"] == [{"field": "private_metadata", "detail": "must be a JSON object"}]
    problem(admin.call("PATCH", path, {"password_hash": "x"}, **{"If-Match": '"2"'}), 422)
    with app.app_context():
        assert db.session.get(User, user.id).family_name is None


def test_disabling_a_user_ends_their_sessions(admin, app, client, make_user):
    user = make_user("gina")
    browser = OAuthClient(app.test_client())
    browser.login("gina", PASSWORD)
    assert browser.http.get("/account").status_code == 200
    sessions = admin.ok("GET", f"/users/{user.id}/sessions").get_json()
    assert sessions["total"] == 1
    admin.ok("PATCH", f"/users/{user.id}", {"disabled": True}, **{"If-Match": '"1"'})
    assert browser.http.get("/account").status_code == 302
    assert "user.disabled" in [t for t in _tags(app)]


def test_the_last_admin_keeps_the_flag_and_nobody_deletes_themselves(client, make_client,
                                                                     make_user):
    make_client("console", grant_types=["password"], redirect_uris=[], scope="idp:admin",
                client_secret="console-secret-0123456789abcdefghij")
    boss = make_user("boss", admin=True)
    body = Tokens(client).ok({"grant_type": "password", "username": "boss",
                              "password": PASSWORD}, "console",
                             "console-secret-0123456789abcdefghij")
    boss_api = Admin(client, body["access_token"])
    problem(boss_api.call("PATCH", f"/users/{boss.id}", {"admin": False},
                          **{"If-Match": '"1"'}), 409)
    problem(boss_api.call("PATCH", f"/users/{boss.id}", {"disabled": True},
                          **{"If-Match": '"1"'}), 409)
    problem(boss_api.call("DELETE", f"/users/{boss.id}", **{"If-Match": '"1"'}), 409)


def test_set_password_reset_mfa_and_delete(admin, app, make_user):
    user = make_user("hal")
    admin.ok("PUT", f"/users/{user.id}/password", {"password": "the new long password"},
             status=204)
    problem(admin.call("PUT", f"/users/{user.id}/password", {"password": "short"}), 422)
    browser = OAuthClient(app.test_client())
    assert browser.login("hal", "the new long password").status_code == 303
    assert admin.ok("POST", f"/users/{user.id}/reset-mfa").get_json() == {"factors_removed": 0}
    assert admin.ok("GET", f"/users/{user.id}/sessions").get_json()["items"] == []  # ended
    assert browser.login("hal", "the new long password").status_code == 303
    [listed] = admin.ok("GET", f"/users/{user.id}/sessions").get_json()["items"]
    admin.ok("DELETE", f"/users/{user.id}/sessions/{listed['sid']}", status=204)
    with app.app_context():
        assert db.session.scalar(select(LoginSession.ended_at)) is not None
    admin.ok("DELETE", f"/users/{user.id}", status=204, **{"If-Match": '"1"'})
    problem(admin.call("GET", f"/users/{user.id}"), 404)


# -- organizations ---------------------------------------------------------------------------


def test_organizations_members_and_groups(admin, app, make_user, make_client):
    user = make_user("ivy")
    made = admin.ok("POST", "/orgs", {"slug": "north", "name": "North"}, status=201)
    assert made.headers["Location"] == f"{API}/orgs/north"
    problem(admin.call("POST", "/orgs", {"slug": "north", "name": "Again"}), 409)
    admin.ok("PATCH", "/orgs/north", {"name": "North Ltd", "require_mfa": True},
             **{"If-Match": '"1"'})
    admin.ok("PUT", f"/orgs/north/members/{user.id}", {"role": "admin"})
    problem(admin.call("PUT", f"/orgs/north/members/{user.id}", {"role": "king"}), 409)
    group = admin.ok("POST", "/orgs/north/groups", {"name": "eng"}, status=201).get_json()
    admin.ok("PUT", f"/orgs/north/groups/{group['id']}/members/{user.id}", status=204)
    admin.ok("PATCH", f"/orgs/north/groups/{group['id']}", {"name": "engineering"})
    shown = admin.ok("GET", "/orgs/north").get_json()
    assert shown["name"] == "North Ltd"
    assert shown["require_mfa"] is True
    assert shown["members"] == [{"user_id": user.id, "username": "ivy", "role": "admin"}]
    assert shown["groups"] == [{"id": group["id"], "org": "north", "name": "engineering",
                                "members": [user.id]}]
    admin.ok("DELETE", f"/orgs/north/groups/{group['id']}/members/{user.id}", status=204)
    admin.ok("DELETE", f"/orgs/north/members/{user.id}", status=204)
    make_client("bound", org="north")
    refused = problem(admin.call("DELETE", "/orgs/north", **{"If-Match": '"2"'}), 409)
    assert "bound" in refused["detail"]
    admin.ok("DELETE", "/clients/bound", status=204, **{"If-Match": '"1"'})
    admin.ok("DELETE", "/orgs/north", status=204, **{"If-Match": '"2"'})
    problem(admin.call("GET", "/orgs/north"), 404)


# -- clients ---------------------------------------------------------------------------------


def test_clients_are_created_edited_rotated_disabled_and_deleted(admin, client, app):
    made = admin.ok("POST", "/clients", {
        "name": "Wiki", "client_id": "wiki", "redirect_uris": ["https://wiki.example/cb"],
        "scope": "openid profile", "grant_types": ["authorization_code", "client_credentials"],
        "policy_uri": "https://wiki.example/privacy"}, status=201)
    created = made.get_json()
    assert made.headers["ETag"] == '"1"'
    assert isinstance(created["created_at"], int)
    secret = created["client_secret"]
    assert created["redirect_uris"] == ["https://wiki.example/cb"]
    assert created["policy_uri"] == "https://wiki.example/privacy"
    tokens = Tokens(client)
    tokens.ok({"grant_type": "client_credentials"}, "wiki", secret)

    bad = problem(admin.call("PATCH", "/clients/wiki", {"redirect_uris": ["http://evil.example"]},
                             **{"If-Match": '"1"'}), 422)
    assert bad["errors"][0]["field"] == "redirect_uris"
    edited = admin.ok("PATCH", "/clients/wiki", {"access_token_ttl": 120,
                                                 "redirect_uris": ["https://wiki.example/cb2"]},
                      **{"If-Match": '"1"'}).get_json()
    assert edited["access_token_ttl"] == 120
    assert edited["version"] == 2
    body = tokens.ok({"grant_type": "client_credentials"}, "wiki", secret)
    assert body["expires_in"] == 120

    rotated = admin.ok("POST", "/clients/wiki/secret").get_json()["client_secret"]
    assert tokens.post({"grant_type": "client_credentials"}, "wiki", secret).status_code == 401
    tokens.ok({"grant_type": "client_credentials"}, "wiki", rotated)

    admin.ok("PATCH", "/clients/wiki", {"disabled": True}, **{"If-Match": '"2"'})
    assert tokens.post({"grant_type": "client_credentials"}, "wiki", rotated).status_code == 401
    problem(admin.call("PATCH", "/clients/wiki", {"auth_method": "none"},
                       **{"If-Match": '"3"'}), 422)
    admin.ok("DELETE", "/clients/wiki", status=204, **{"If-Match": '"3"'})
    problem(admin.call("GET", "/clients/wiki"), 404)
    assert {"client.created", "client.updated", "client.secret_rotated",
            "client.deleted"} <= set(_tags(app))


# -- APIs, roles, upstreams, keys, audit -----------------------------------------------------


def test_apis_roles_upstreams_and_keys(admin, app, make_user):
    user = make_user("jo")
    made = admin.ok("POST", "/apis", {"identifier": "https://api.example", "name": "Orders",
                                      "scope": "orders:read"}, status=201).get_json()
    assert made["client_secret"]
    role = admin.ok("POST", "/roles", {"name": "clerk", "api": "https://api.example",
                                       "permissions": ["orders:read"]}, status=201).get_json()
    admin.ok("POST", f"/roles/{role['id']}/assignments", {"user_id": user.id}, status=204)
    assert admin.ok("GET", f"/users/{user.id}").get_json()["roles"] == ["clerk"]
    admin.ok("POST", "/upstreams", {"id": "corp", "name": "Corp", "issuer":
                                    "https://sso.example", "client_id": "c",
                                    "client_secret": "s"}, status=201)
    assert [u["id"] for u in admin.ok("GET", "/upstreams").get_json()["items"]] == ["corp"]
    assert "client_secret" not in json.dumps(admin.ok("GET", "/upstreams").get_json())
    admin.ok("DELETE", "/upstreams/corp", status=204)

    before = admin.ok("GET", "/keys?limit=200").get_json()["items"]
    rotated = admin.ok("POST", "/keys", {"alg": "ES256"}, status=201).get_json()
    after = admin.ok("GET", "/keys?limit=200").get_json()["items"]
    assert len(after) == len(before) + 1
    old = next(k for k in after if k["alg"] == "ES256" and k["kid"] != rotated["kid"])
    assert old["state"] == "published"
    problem(admin.call("DELETE", f"/keys/{rotated['kid']}"), 409)  # current: rotate first
    admin.ok("DELETE", f"/keys/{old['kid']}", status=204)
    jwks = admin.http.get("/.well-known/jwks.json").get_json()
    assert old["kid"] not in {k["kid"] for k in jwks["keys"]}
    problem(admin.call("POST", "/keys", {"alg": "HS256"}), 422)


def test_the_audit_log_is_filtered_paged_and_exported(admin, app, client, alice):
    OAuthClient(client).login("alice", "wrong password")
    OAuthClient(client).login("alice", PASSWORD)
    listed = admin.ok("GET", f"/audit-events?tag=login.&user_id={alice.id}").get_json()
    assert {e["tag"] for e in listed["items"]} == {"login.failure", "login.success"}
    only = admin.ok("GET", "/audit-events?tag=login.failure").get_json()
    assert [e["tag"] for e in only["items"]] == ["login.failure"]
    problem(admin.call("GET", "/audit-events?since=yesterday"), 400)
    lines = admin.ok("GET", "/audit-events?format=jsonl&tag=login.").get_data(True)
    assert [json.loads(line)["tag"] for line in lines.splitlines()] == [
        "login.success", "login.failure"]
    exported = admin.ok("GET", "/audit-events?format=csv&tag=login.")
    assert exported.mimetype == "text/csv"
    assert "attachment" in exported.headers["Content-Disposition"]
    rows = list(csv.DictReader(io.StringIO(exported.get_data(True))))
    assert [r["tag"] for r in rows] == ["login.success", "login.failure"]


def test_bad_requests_are_problems(admin):
    problem(admin.call("GET", "/users?limit=0"), 400)
    problem(admin.call("GET", "/users?limit=many"), 400)
    answer = admin.http.post(f"{API}/users", data="not json",
                             headers={"Authorization": f"Bearer {admin.token}"})
    problem(answer, 400)
    problem(admin.call("GET", "/nothing-here"), 404)
    not_allowed = admin.call("PUT", "/users")
    problem(not_allowed, 405)
    assert "GET" in not_allowed.headers["Allow"]


def test_tokens_are_ours_and_verified(admin, client):
    claims = verify_jwt(admin.token, client.get("/.well-known/jwks.json").get_json(),
                        "Ed25519", iss=ISSUER, sub="ops-robot", scope="idp:admin")[1]
    assert claims["client_id"] == "ops-robot"


def _tags(app) -> list[str]:
    with app.app_context():
        return list(db.session.scalars(select(AuditEvent.tag)))


def test_a_refused_change_leaves_no_half_and_no_event(admin, app, make_user, caplog):
    boss = make_user("boss", admin=True)  # the only administrator
    caplog.set_level(logging.INFO, logger="idp.audit")
    refused = admin.call("PATCH", f"/users/{boss.id}", {"given_name": "Changed", "admin": False},
                         **{"If-Match": '"1"'})
    assert "last administrator" in problem(refused, 409)["detail"]
    with app.app_context():
        kept = db.session.get(User, boss.id)
        assert (kept.given_name, kept.admin, kept.version) == (None, True, 1)
    assert actors(app, "user.updated") == []
    assert not [r for r in caplog.records if r.getMessage().startswith("user.updated")]


def test_nan_in_metadata_is_refused(admin, make_user):
    user = make_user("nan")
    refused = admin.http.open(f"{API}/users/{user.id}", method="PATCH", headers={
        "Authorization": f"Bearer {admin.token}", "If-Match": '"1"',
        "Content-Type": "application/json"}, data='{"public_metadata": {"x": NaN}}')
    assert problem(refused, 422)["errors"][0]["field"] == "public_metadata"


def test_a_username_differing_only_in_case_is_taken(admin, make_user):
    make_user("carol")
    taken = problem(admin.call("POST", "/users", {"username": "CAROL",
                                                  "email": "c2@example.com"}), 409)
    assert taken["errors"][0]["field"] == "username"
