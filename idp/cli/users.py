"""``flask idp users …``."""

from __future__ import annotations

import json
import sys
from typing import Any

import click
from flask.cli import AppGroup

from ..models import User
from ..services import accounts, apis, audit, factors, orgs
from .base import emit, idp, json_option, run, secret_from, user

users = AppGroup("users", help="Manage users.")
idp.add_command(users)


@users.command("create")
@click.argument("username")
@click.option("--email", required=True, help="Their email address (also a sign-in name).")
@click.option("--password", help="Prefer --password-stdin: arguments show up in process lists.")
@click.option("--password-stdin", is_flag=True, help="Read the password from standard input.")
@click.option("--given-name", help="Their first name.")
@click.option("--family-name", help="Their last name.")
@click.option("--email-verified", is_flag=True, help="The address is known to be theirs.")
@click.option("--admin", is_flag=True, help="May use the admin console.")
@json_option
def users_create(username: str, email: str, password: str | None, password_stdin: bool,
                 given_name: str | None, family_name: str | None, email_verified: bool,
                 admin: bool, as_json: bool) -> None:
    """Create a user. Without --password or --password-stdin, asks for one at a
    terminal; elsewhere (a script) the account has no password until one is set with
    `users set-password`, and signs in only through an upstream provider or a passkey."""
    secret = secret_from(password, password_stdin)
    if secret is None and sys.stdin.isatty():
        secret = click.prompt("Password", hide_input=True, confirmation_prompt=True)
    user = run(lambda: accounts.create_user(
        username, email, secret, given_name=given_name, family_name=family_name,
        email_verified=email_verified, admin=admin, origin=audit.CLI,
    ))
    emit(as_json, {"id": user.id, "username": user.username, "email": user.email,
                   "has_password": secret is not None},
         f"created user {user.username} ({user.id})" + ("" if secret is not None else
         "; it has no password: set one with `flask idp users set-password`"))


@users.command("reset-mfa")
@click.argument("username")
@json_option
def users_reset_mfa(username: str, as_json: bool) -> None:
    """Remove a user's second factors (authenticator app, passkeys, recovery codes) and
    end their sessions: for someone who lost them. They sign in with the password next."""
    found = user(username)
    removed = run(lambda: factors.reset(found, audit.CLI))
    emit(as_json, {"id": found.id, "username": found.username, "factors_removed": removed},
         f"removed {removed} second factor(s) of {found.username}; their sessions ended")


def _shown(found: User) -> dict[str, Any]:
    return {"id": found.id, "username": found.username, "email": found.email,
            "email_verified": found.email_verified, "given_name": found.given_name,
            "family_name": found.family_name, "locale": found.locale,
            "picture": found.picture, "admin": found.admin, "disabled": found.disabled,
            "has_password": bool(found.password_hash),
            "public_metadata": found.public_metadata,
            "private_metadata": found.private_metadata,
            "unsafe_metadata": found.unsafe_metadata, "created_at": found.created_at,
            "version": found.version}


@users.command("list")
@click.option("--query", "-q", default="", help="Part of a username, email or name.")
@click.option("--limit", type=click.IntRange(1, 1000), default=100, show_default=True,
              help="How many to list.")
@click.option("--offset", type=click.IntRange(0), default=0, show_default=True,
              help="How many to skip first.")
@json_option
def users_list(query: str, limit: int, offset: int, as_json: bool) -> None:
    """List users by username."""
    found, total = accounts.search_users(query, limit=limit, offset=offset)
    rows = [_shown(u) for u in found]
    emit(as_json, {"users": rows, "total": total}, "\n".join(
        f"{u['username']}\t{u['email']}\t{u['id']}"
        f"{'  admin' if u['admin'] else ''}{'  disabled' if u['disabled'] else ''}"
        for u in rows) or "(none)")


@users.command("show")
@click.argument("username")
@json_option
def users_show(username: str, as_json: bool) -> None:
    """One user, with their organizations and roles."""
    found = user(username)
    shown = {**_shown(found),
             "memberships": [{"org": m.org.slug, "role": m.role}
                             for m in orgs.memberships(found.id)],
             "roles": [r.name for r in apis.every_role_of(found.id)],
             "second_factors": factors.factor_count(found)}
    emit(as_json, shown, "\n".join(f"{k}: {json.dumps(v) if isinstance(v, dict | list) else v}"
                                   for k, v in shown.items()))


@users.command("update")
@click.argument("username")
@click.option("--username", "new_username", help="A new username.")
@click.option("--email", help="A new email address (also a sign-in name).")
@click.option("--email-verified/--email-unverified", default=None,
              help="Whether the address is known to be theirs.")
@click.option("--given-name", help="Their first name.")
@click.option("--family-name", help="Their last name.")
@click.option("--locale", help="A language tag, such as en or de-CH.")
@click.option("--picture", help="An http(s) URL.")
@click.option("--public-metadata", metavar="JSON", help="A JSON object (replaces it).")
@click.option("--private-metadata", metavar="JSON", help="A JSON object (replaces it).")
@click.option("--unsafe-metadata", metavar="JSON", help="A JSON object (replaces it).")
@click.option("--admin/--no-admin", default=None, help="The admin flag (the last admin keeps it).")
@json_option
def users_update(username: str, as_json: bool, admin: bool | None, **given: Any) -> None:
    """Change a user's profile, metadata or admin flag; what is not given stays."""
    found = user(username)
    changes = {("username" if k == "new_username" else k): v for k, v in given.items()
               if v is not None}
    for name in accounts.METADATA_FIELDS:
        if name in changes:
            try:
                changes[name] = json.loads(changes[name])
            except ValueError as error:
                raise click.BadParameter(f"not JSON: {error}",
                                         param_hint="--" + name.replace("_", "-")) from None

    def update() -> None:
        accounts.update_user(found, changes, origin=audit.CLI)
        if admin is not None:
            accounts.set_admin(found, admin, origin=audit.CLI)

    run(update)
    emit(as_json, _shown(found), f"updated user {found.username}")


@users.command("set-password")
@click.argument("username")
@click.option("--password", help="Prefer --password-stdin: arguments show up in process lists.")
@click.option("--password-stdin", is_flag=True, help="Read the password from standard input.")
def users_set_password(username: str, password: str | None, password_stdin: bool) -> None:
    """Set a user's password: their sessions end and their tokens are revoked. Without
    --password or --password-stdin, asks for it (twice)."""
    found = user(username)
    secret = secret_from(password, password_stdin) or click.prompt(
        "New password", hide_input=True, confirmation_prompt=True)
    run(lambda: accounts.set_password(found, secret, origin=audit.CLI))
    click.echo(f"password of {found.username} set; their sessions ended")


@users.command("disable")
@click.argument("username")
def users_disable(username: str) -> None:
    """Disable a user: they cannot sign in, their sessions end, their tokens stop."""
    found = user(username)
    run(lambda: accounts.set_disabled(found, True, origin=audit.CLI))
    click.echo(f"disabled {found.username}")


@users.command("enable")
@click.argument("username")
def users_enable(username: str) -> None:
    """Let a disabled user sign in again."""
    found = user(username)
    run(lambda: accounts.set_disabled(found, False, origin=audit.CLI))
    click.echo(f"enabled {found.username}")


@users.command("delete")
@click.argument("username")
@click.option("--yes", is_flag=True, help="Do not ask for confirmation.")
def users_delete(username: str, yes: bool) -> None:
    """Delete a user with their sessions, tokens, consents, memberships, second factors
    and linked accounts (the audit log keeps its events)."""
    found = user(username)
    if not yes:
        click.confirm(f"Delete {found.username} and everything that is theirs?", abort=True)
    run(lambda: accounts.delete_user(found, origin=audit.CLI))
    click.echo(f"deleted user {username}")
