"""The ``flask idp`` command group: set-up and administration."""

from __future__ import annotations

import json
import sys
from collections.abc import Callable
from typing import Any

import click
from flask import Flask, current_app
from flask.cli import AppGroup
from flask_migrate import upgrade
from sqlalchemy import select

from .extensions import db
from .models import SigningKey, User
from .oauth import keys
from .services import ServiceError, accounts, audit, clients, housekeeping, orgs

idp = AppGroup("idp", help="Administer the identity provider.")


def _fail(message: str) -> None:
    db.session.rollback()
    raise click.ClickException(message)


def _run(action: Callable[[], Any]) -> Any:
    """Run a service call; a broken rule is a clear message and exit status 1."""
    try:
        result = action()
        db.session.commit()
        return result
    except ServiceError as error:
        _fail(str(error))


def _emit(as_json: bool, data: dict[str, Any], text: str) -> None:
    click.echo(json.dumps(data) if as_json else text)


def _user(identifier: str) -> User:
    user = accounts.find_user(identifier)
    if user is None:
        _fail(f"no user {identifier!r}")
    assert user is not None
    return user


# -- init ---------------------------------------------------------------------


@idp.command("init")
@click.option("--demo", is_flag=True, help="Also create the demo organizations, users and clients.")
def init_command(demo: bool) -> None:
    """Create or upgrade the schema, create signing keys, seed demo data. Idempotent."""
    upgrade(directory=current_app.extensions["migrate"].directory)
    for key in _run(keys.ensure_keys):
        click.echo(f"created {key.alg} signing key {key.kid}")
    if demo:
        from . import demo as demo_data

        _run(demo_data.seed)
        click.echo(demo_data.describe(current_app.config["IDP_ISSUER"]))


# -- users --------------------------------------------------------------------

users = AppGroup("users", help="Manage users.")
idp.add_command(users)


@users.command("create")
@click.argument("username")
@click.option("--email", required=True)
@click.option("--password", help="Prefer --password-stdin: arguments show up in process lists.")
@click.option("--password-stdin", is_flag=True, help="Read the password from standard input.")
@click.option("--given-name")
@click.option("--family-name")
@click.option("--email-verified", is_flag=True)
@click.option("--admin", is_flag=True)
@click.option("--json", "as_json", is_flag=True, help="Print one JSON object.")
def users_create(username: str, email: str, password: str | None, password_stdin: bool,
                 given_name: str | None, family_name: str | None, email_verified: bool,
                 admin: bool, as_json: bool) -> None:
    """Create a user."""
    if password and password_stdin:
        _fail("give --password or --password-stdin, not both")
    if password_stdin:
        password = sys.stdin.readline().rstrip("\r\n")
    user = _run(lambda: accounts.create_user(
        username, email, password, given_name=given_name, family_name=family_name,
        email_verified=email_verified, admin=admin,
    ))
    audit.record("user.created", audit.CLI, user_id=user.id)
    db.session.commit()
    _emit(as_json, {"id": user.id, "username": user.username, "email": user.email},
          f"created user {user.username} ({user.id})")


# -- organizations ------------------------------------------------------------

orgs_group = AppGroup("orgs", help="Manage organizations.")
idp.add_command(orgs_group)


@orgs_group.command("create")
@click.argument("slug")
@click.option("--name", required=True)
@click.option("--json", "as_json", is_flag=True, help="Print one JSON object.")
def orgs_create(slug: str, name: str, as_json: bool) -> None:
    """Create an organization."""
    org = _run(lambda: orgs.create_org(slug, name))
    _emit(as_json, {"id": org.id, "slug": org.slug, "name": org.name},
          f"created organization {org.slug} ({org.id})")


@orgs_group.command("add-member")
@click.argument("slug")
@click.argument("username")
@click.option("--role", type=click.Choice(["member", "admin"]), default="member",
              show_default=True)
def orgs_add_member(slug: str, username: str, role: str) -> None:
    """Add a user to an organization (or change their role)."""
    _run(lambda: orgs.add_member(orgs.require_org(slug), _user(username), role))
    click.echo(f"{username} is now {role} of {slug}")


# -- groups -------------------------------------------------------------------

groups = AppGroup("groups", help="Manage groups within organizations.")
idp.add_command(groups)


@groups.command("create")
@click.argument("org_slug")
@click.argument("name")
@click.option("--json", "as_json", is_flag=True, help="Print one JSON object.")
def groups_create(org_slug: str, name: str, as_json: bool) -> None:
    """Create a group in an organization."""
    group = _run(lambda: orgs.create_group(orgs.require_org(org_slug), name))
    _emit(as_json, {"id": group.id, "org": org_slug, "name": group.name},
          f"created group {name} in {org_slug} ({group.id})")


@groups.command("add-member")
@click.argument("org_slug")
@click.argument("name")
@click.argument("username")
def groups_add_member(org_slug: str, name: str, username: str) -> None:
    """Add a user to a group."""

    def add() -> None:
        org = orgs.require_org(org_slug)
        group = orgs.find_group(org, name)
        if group is None:
            raise ServiceError(f"no group {name!r} in {org_slug!r}")
        orgs.add_group_member(group, _user(username))

    _run(add)
    click.echo(f"{username} is now in group {name} of {org_slug}")


# -- clients ------------------------------------------------------------------

clients_group = AppGroup("clients", help="Manage client applications.")
idp.add_command(clients_group)


@clients_group.command("create")
@click.option("--name", required=True)
@click.option("--client-id")
@click.option("--client-secret", help="At least 32 characters; generated when omitted.")
@click.option("--redirect-uri", "redirect_uris", multiple=True)
@click.option("--post-logout-redirect-uri", "post_logout_redirect_uris", multiple=True)
@click.option("--grant-type", "grant_types", multiple=True,
              help="Repeatable; default authorization_code and refresh_token.")
@click.option("--scope", help='Space-separated, e.g. "openid profile email".')
@click.option("--auth-method", default="client_secret_basic", show_default=True,
              type=click.Choice(["client_secret_basic", "client_secret_post", "none"]))
@click.option("--skip-consent", is_flag=True)
@click.option("--access-token-ttl", type=int, default=300, show_default=True)
@click.option("--refresh-token-ttl", type=int, default=30 * 24 * 3600, show_default=True)
@click.option("--max-groups-in-id-token", type=int, default=100, show_default=True)
@click.option("--org", help="Bind the client to an organization (by slug).")
@click.option("--require-pkce", is_flag=True)
@click.option("--id-token-alg", type=click.Choice(["RS256", "ES256", "Ed25519"]),
              default="RS256", show_default=True)
@click.option("--access-token-alg", type=click.Choice(["Ed25519", "EdDSA"]),
              default="Ed25519", show_default=True)
@click.option("--json", "as_json", is_flag=True, help="Print one JSON object.")
def clients_create(name: str, client_id: str | None, client_secret: str | None,
                   redirect_uris: tuple[str, ...], post_logout_redirect_uris: tuple[str, ...],
                   grant_types: tuple[str, ...], scope: str | None, auth_method: str,
                   skip_consent: bool, access_token_ttl: int, refresh_token_ttl: int,
                   max_groups_in_id_token: int, org: str | None, require_pkce: bool,
                   id_token_alg: str, access_token_alg: str, as_json: bool) -> None:
    """Register a client; its secret is printed once and never stored."""
    new = _run(lambda: clients.create_client(
        name, client_id=client_id, client_secret=client_secret, redirect_uris=redirect_uris,
        post_logout_redirect_uris=post_logout_redirect_uris, grant_types=grant_types,
        scope=scope, auth_method=auth_method, skip_consent=skip_consent,
        access_token_ttl=access_token_ttl, refresh_token_ttl=refresh_token_ttl,
        max_groups_in_id_token=max_groups_in_id_token, org=org, require_pkce=require_pkce,
        id_token_alg=id_token_alg, access_token_alg=access_token_alg,
    ))
    audit.record("client.created", audit.CLI, client_id=new.client.client_id)
    db.session.commit()
    _emit(as_json, {"client_id": new.client.client_id, "client_secret": new.client_secret},
          f"client_id:     {new.client.client_id}\n"
          f"client_secret: {new.client_secret or '(public client)'}")


# -- keys ---------------------------------------------------------------------

keys_group = AppGroup("keys", help="Manage signing keys.")
idp.add_command(keys_group)


@keys_group.command("list")
@click.option("--json", "as_json", is_flag=True, help="Print one JSON object.")
def keys_list(as_json: bool) -> None:
    """List signing keys: current, retired but published, retired."""
    published = {k.kid for k in keys.published_keys()}
    rows = db.session.scalars(select(SigningKey).order_by(SigningKey.created_at)).all()
    listed = [
        {"kid": k.kid, "alg": k.alg, "created_at": k.created_at, "retired_at": k.retired_at,
         "state": "current" if k.retired_at is None else
                  ("published" if k.kid in published else "retired")}
        for k in rows
    ]
    if as_json:
        click.echo(json.dumps({"keys": listed}))
        return
    for k in listed:
        click.echo(f"{k['kid']}  {k['alg']:<8} {k['state']}")


@keys_group.command("rotate")
@click.option("--alg", type=click.Choice(list(keys.KEY_ALGS)), default="Ed25519",
              show_default=True)
def keys_rotate(alg: str) -> None:
    """Make a new current key; the old one stays published until its tokens expire."""
    key = keys.rotate(alg)
    audit.record("key.rotated", audit.CLI, kid=key.kid, alg=alg)
    db.session.commit()
    keys.store().invalidate()
    click.echo(f"new current {alg} key {key.kid}")


# -- housekeeping ---------------------------------------------------------------


@idp.command("purge")
def purge_command() -> None:
    """Delete expired codes, tokens and login sessions, in small batches."""
    counts = housekeeping.purge()
    click.echo(", ".join(f"{n} {what}" for what, n in counts.items()) + " deleted")


def init_app(app: Flask) -> None:
    app.cli.add_command(idp)
