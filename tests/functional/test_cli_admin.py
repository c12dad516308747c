"""The command line's administration: list, show, update, delete and the rest, for
users, organizations, groups and clients; each change an audit event by ``cli``."""

from __future__ import annotations

import json

from sqlalchemy import select

from idp.extensions import db
from idp.models import AuditEvent, Client, LoginSession, Organization, User

from ..helpers import PASSWORD, OAuthClient, Tokens


def run(runner, *args, input=None):
    return runner.invoke(args=["idp", *args], input=input)


def ok(result) -> str:
    assert result.exit_code == 0, result.output
    return result.output


def ok_json(result) -> dict:
    return json.loads(ok(result).strip().splitlines()[-1])


def cli_events(app, tag: str) -> list[dict]:
    with app.app_context():
        return [e.details for e in db.session.scalars(
            select(AuditEvent).where(AuditEvent.tag == tag))]


def test_users_list_show_update_disable_and_delete(runner, app, client, make_user):
    make_user("ann", given_name="Ann")
    make_user("ben")
    listed = ok_json(run(runner, "users", "list", "--json"))
    assert [u["username"] for u in listed["users"]] == ["ann", "ben"]
    assert ok_json(run(runner, "users", "list", "-q", "an", "--json"))["total"] == 1

    ok(run(runner, "users", "update", "ann", "--family-name", "Lee", "--locale", "fr",
           "--public-metadata", '{"plan": "pro"}', "--admin"))
    shown = ok_json(run(runner, "users", "show", "ann", "--json"))
    assert (shown["family_name"], shown["locale"], shown["admin"]) == ("Lee", "fr", True)
    assert shown["public_metadata"] == {"plan": "pro"}
    bad = run(runner, "users", "update", "ann", "--private-metadata", "[1")
    assert bad.exit_code == 2
    assert "not JSON" in bad.output
    not_object = run(runner, "users", "update", "ann", "--private-metadata", "[1]")
    assert not_object.exit_code == 1
    assert "--private-metadata: must be a JSON object" in not_object.output

    assert OAuthClient(client).login("ben", PASSWORD).status_code == 303
    ok(run(runner, "users", "disable", "ben"))
    with app.app_context():
        assert db.session.scalar(select(LoginSession.ended_at)) is not None
    assert OAuthClient(app.test_client()).login("ben", PASSWORD).status_code == 401
    ok(run(runner, "users", "enable", "ben"))
    ok(run(runner, "users", "set-password", "ben", "--password-stdin",
           input="another long password\n"))
    assert OAuthClient(app.test_client()).login("ben", "another long password").status_code \
        == 303
    prompted = run(runner, "users", "set-password", "ann",
                   input="typed at the prompt\ntyped at the prompt\n")
    ok(prompted)
    assert "New password" in prompted.output

    refused = run(runner, "users", "delete", "ben", input="n\n")
    assert refused.exit_code == 1
    ok(run(runner, "users", "delete", "ben", "--yes"))
    with app.app_context():
        assert db.session.scalar(select(User).where(User.username == "ben")) is None
    for tag in ("user.updated", "user.disabled", "user.enabled", "password.set",
                "user.deleted", "user.admin_granted"):
        assert cli_events(app, tag)[0]["actor"] == "cli", tag


def test_users_create_without_a_password_says_so(runner, app):
    made = ok_json(run(runner, "users", "create", "nopass", "--email", "n@example.com",
                       "--json"))
    assert made["has_password"] is False
    said = ok(run(runner, "users", "create", "nopass2", "--email", "n2@example.com"))
    assert "no password" in said
    assert "set-password" in said


def test_orgs_and_groups_list_show_update_remove_delete(runner, app, make_user, make_client):
    make_user("cat")
    ok(run(runner, "orgs", "create", "west", "--name", "West"))
    ok(run(runner, "orgs", "add-member", "west", "cat"))
    ok(run(runner, "groups", "create", "west", "ops"))
    ok(run(runner, "groups", "add-member", "west", "ops", "cat"))
    assert ok_json(run(runner, "orgs", "list", "--json"))["orgs"][0]["slug"] == "west"
    ok(run(runner, "orgs", "update", "west", "--name", "West Ltd", "--require-mfa"))
    shown = ok_json(run(runner, "orgs", "show", "west", "--json"))
    assert (shown["name"], shown["require_mfa"]) == ("West Ltd", True)
    assert shown["members"] == [{"username": "cat", "role": "member"}]
    assert ok_json(run(runner, "groups", "list", "west", "--json"))["groups"][0]["members"] == 1
    ok(run(runner, "groups", "update", "west", "ops", "--name", "operations"))
    assert ok_json(run(runner, "groups", "show", "west", "operations", "--json"))[
        "members"] == ["cat"]
    ok(run(runner, "groups", "remove-member", "west", "operations", "cat"))
    ok(run(runner, "groups", "delete", "west", "operations"))
    ok(run(runner, "orgs", "remove-member", "west", "cat"))
    assert run(runner, "orgs", "show", "nowhere").output.strip().endswith(
        "no organization 'nowhere'")

    make_client("bound", org="west")
    refused = run(runner, "orgs", "delete", "west", "--yes")
    assert refused.exit_code == 1
    assert "Clients are bound" in refused.output
    ok(run(runner, "clients", "delete", "bound", "--yes"))
    ok(run(runner, "orgs", "delete", "west", "--yes"))
    with app.app_context():
        assert db.session.scalar(select(Organization)) is None
    for tag in ("org.updated", "group.renamed", "group.deleted", "org.member_removed",
                "org.deleted"):
        assert cli_events(app, tag)[0]["actor"] == "cli", tag


def test_clients_list_show_update_rotate_disable_delete(runner, app, client):
    made = ok_json(run(runner, "clients", "create", "--name", "Robot", "--client-id", "robot",
                       "--grant-type", "client_credentials", "--json"))
    tokens = Tokens(client)
    tokens.ok({"grant_type": "client_credentials"}, "robot", made["client_secret"])
    assert [c["client_id"] for c in ok_json(run(runner, "clients", "list", "--json"))[
        "clients"]] == ["robot"]
    ok(run(runner, "clients", "update", "robot", "--access-token-ttl", "90",
           "--policy-uri", "https://robot.example/privacy"))
    shown = ok_json(run(runner, "clients", "show", "robot", "--json"))
    assert (shown["access_token_ttl"], shown["policy_uri"]) == (90, "https://robot.example/privacy")
    assert "client_secret" not in shown
    bad = run(runner, "clients", "update", "robot", "--redirect-uri", "http://evil.example/cb")
    assert bad.exit_code == 1
    assert bad.output.startswith("Error: --redirect-uri")

    rotated = ok_json(run(runner, "clients", "rotate-secret", "robot", "--json"))
    assert tokens.post({"grant_type": "client_credentials"}, "robot",
                       made["client_secret"]).status_code == 401
    assert tokens.ok({"grant_type": "client_credentials"}, "robot",
                     rotated["client_secret"])["expires_in"] == 90
    ok(run(runner, "clients", "disable", "robot"))
    assert tokens.post({"grant_type": "client_credentials"}, "robot",
                       rotated["client_secret"]).status_code == 401
    ok(run(runner, "clients", "enable", "robot"))
    tokens.ok({"grant_type": "client_credentials"}, "robot", rotated["client_secret"])
    ok(run(runner, "clients", "delete", "robot", "--yes"))
    with app.app_context():
        assert db.session.get(Client, "robot") is None
    for tag in ("client.created", "client.updated", "client.secret_rotated", "client.disabled",
                "client.enabled", "client.deleted"):
        assert [e["actor"] for e in cli_events(app, tag)] == ["cli"], tag


def test_every_option_is_described(app):
    """``--help`` says what each option is for (choices and defaults click adds)."""
    import click

    from idp.cli import idp

    undescribed = []

    def walk(group: click.Group, path: str) -> None:
        for name, command in group.commands.items():
            if isinstance(command, click.Group):
                walk(command, f"{path} {name}")
                continue
            assert command.help, f"{path} {name} has no description"
            undescribed.extend(f"{path} {name} {p.opts[0]}" for p in command.params
                               if isinstance(p, click.Option) and not p.help)

    walk(idp, "idp")
    assert undescribed == []
