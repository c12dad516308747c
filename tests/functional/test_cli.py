"""The ``flask idp`` command line."""

from __future__ import annotations

import json

import pytest

from idp.extensions import db
from idp.models import Client, SigningKey, User
from idp.security import opaque


def run(runner, *args, input=None):
    return runner.invoke(args=["idp", *args], input=input)


def ok_json(result) -> dict:
    assert result.exit_code == 0, result.output
    return json.loads(result.output.strip().splitlines()[-1])


def test_init_is_idempotent_and_seeds_demo_data(runner, app):
    first = run(runner, "init", "--demo")
    assert first.exit_code == 0, first.output
    assert "alice-demo-password" in first.output
    assert "demo-web-secret" in first.output
    second = run(runner, "init", "--demo")
    assert second.exit_code == 0, second.output
    with app.app_context():
        assert db.session.query(User).count() == 2
        assert {c.client_id for c in db.session.query(Client)} == {
            "demo-web", "demo-spa", "demo-service", "playground"}
        web = db.session.get(Client, "demo-web")
        assert opaque.verify("demo-web-secret-change-me-0123456789abcdef",
                                     web.secret_digest)
        assert db.session.query(SigningKey).filter_by(retired_at=None).count() == 3


def test_users_create_json(runner, app):
    data = ok_json(run(runner, "users", "create", "dora", "--email", "Dora@Example.com",
                       "--password", "long-enough-pw", "--given-name", "Dora",
                       "--email-verified", "--json"))
    assert data["username"] == "dora"
    assert data["email"] == "dora@example.com"
    with app.app_context():
        user = db.session.get(User, data["id"])
        assert user.email_verified
        assert user.given_name == "Dora"
        assert user.password_hash.startswith("$argon2id$")


def test_users_create_password_from_stdin(runner, client):
    ok_json(run(runner, "users", "create", "erin", "--email", "erin@example.com",
                "--password-stdin", "--json", input="stdin-password-1\n"))
    from tests.helpers import OAuthClient
    assert OAuthClient(client).login("erin", "stdin-password-1").status_code == 303


@pytest.mark.parametrize(("args", "message"), [
    (["users", "create", "alice", "--email", "other@example.com"], "exists"),
    (["users", "create", "zed", "--email", "alice@example.com"], "exists"),
    (["users", "create", "bad name", "--email", "x@example.com"], "invalid username"),
    (["users", "create", "zed", "--email", "not-an-email"], "invalid email"),
    (["users", "create", "zed", "--email", "z@example.com", "--password", "short"],
     "at least"),
    (["orgs", "create", "Bad Slug", "--name", "X"], "invalid slug"),
    (["orgs", "add-member", "nope", "alice"], "no organization"),
    (["orgs", "add-member", "acme", "nobody"], "no user"),
    (["groups", "create", "nope", "eng"], "no organization"),
    (["clients", "create", "--name", "x", "--redirect-uri", "http://evil.example/cb"],
     "https"),
    (["clients", "create", "--name", "x", "--redirect-uri", "https://a.example/cb#f"],
     "fragment"),
    (["clients", "create", "--name", "x", "--redirect-uri", "not a url"], "redirect URI"),
    (["clients", "create", "--name", "x"], "redirect-uri"),
    (["clients", "create", "--name", "x", "--grant-type", "magic"], "unknown grant type"),
    (["clients", "create", "--name", "x", "--client-secret", "short",
      "--redirect-uri", "https://a.example/cb"], "at least 32"),
    (["clients", "create", "--name", "x", "--org", "nope",
      "--redirect-uri", "https://a.example/cb"], "no organization"),
    (["clients", "create", "--name", "x", "--auth-method", "none",
      "--grant-type", "client_credentials"], "public client"),
])
def test_bad_arguments_fail_clearly(runner, make_user, make_org, args, message):
    alice = make_user("alice")
    make_org("acme", members=[alice])
    result = run(runner, *args)
    assert result.exit_code != 0
    assert message in result.output


def test_orgs_and_groups(runner, make_user, app):
    alice = make_user("alice")
    org = ok_json(run(runner, "orgs", "create", "acme", "--name", "Acme", "--json"))
    assert org["slug"] == "acme"
    assert run(runner, "orgs", "add-member", "acme", "alice", "--role", "admin").exit_code == 0
    group = ok_json(run(runner, "groups", "create", "acme", "engineering", "--json"))
    assert group["name"] == "engineering"
    assert run(runner, "groups", "add-member", "acme", "engineering", "alice").exit_code == 0
    with app.app_context():
        from idp.services import orgs
        assert [g.name for g in orgs.user_groups(alice.id)] == ["engineering"]
        assert orgs.memberships(alice.id)[0].role == "admin"


def test_group_member_must_be_in_the_organization(runner, make_user, make_org):
    make_user("alice")
    make_org("acme")
    ok_json(run(runner, "groups", "create", "acme", "eng", "--json"))
    result = run(runner, "groups", "add-member", "acme", "eng", "alice")
    assert result.exit_code != 0
    assert "member of the group's organization" in result.output


def test_clients_create_prints_the_secret_once(runner, app, make_org):
    make_org("acme")
    data = ok_json(run(runner, "clients", "create", "--name", "Svc", "--client-id", "svc",
                       "--grant-type", "client_credentials", "--scope", "api",
                       "--access-token-ttl", "120", "--org", "acme", "--json"))
    assert data["client_id"] == "svc"
    assert len(data["client_secret"]) >= 43
    with app.app_context():
        client = db.session.get(Client, "svc")
        assert client.secret_digest != data["client_secret"]
        assert opaque.verify(data["client_secret"], client.secret_digest)
        assert client.access_token_ttl == 120
        assert client.grant_types == ["client_credentials"]
        assert client.org_id is not None


def test_public_client_has_no_secret_and_requires_pkce(runner, app):
    data = ok_json(run(runner, "clients", "create", "--name", "SPA", "--client-id", "spa",
                       "--auth-method", "none", "--redirect-uri", "http://localhost:3000/cb",
                       "--json"))
    assert data["client_secret"] is None
    with app.app_context():
        assert db.session.get(Client, "spa").require_pkce


def test_duplicate_client_id_fails(runner, web):
    result = run(runner, "clients", "create", "--name", "again", "--client-id", "web",
                 "--redirect-uri", "https://a.example/cb")
    assert result.exit_code != 0
    assert "exists" in result.output


def test_keys_list_and_rotate(runner, client):
    before = ok_json(run(runner, "keys", "list", "--json"))["keys"]
    assert {k["alg"] for k in before if k["state"] == "current"} == {"Ed25519", "RS256", "ES256"}
    rotated = run(runner, "keys", "rotate", "--alg", "RS256")
    assert rotated.exit_code == 0, rotated.output
    after = ok_json(run(runner, "keys", "list", "--json"))["keys"]
    rs = [k for k in after if k["alg"] == "RS256"]
    assert [k["state"] for k in rs].count("current") == 1
    assert [k["state"] for k in rs].count("published") == 1
    kids = {k["kid"] for k in client.get("/.well-known/jwks.json").get_json()["keys"]}
    assert {k["kid"] for k in rs} <= kids


def test_purge_reports_counts(runner):
    result = run(runner, "purge")
    assert result.exit_code == 0
    assert "codes" in result.output
    assert "tokens" in result.output
