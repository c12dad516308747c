"""``flask idp users …``."""

from __future__ import annotations

import click
from flask.cli import AppGroup

from ..services import accounts, audit, factors
from .base import emit, idp, json_option, run, secret_from, user

users = AppGroup("users", help="Manage users.")
idp.add_command(users)


@users.command("create")
@click.argument("username")
@click.option("--email", required=True, help="Their email address (also a sign-in name).")
@click.option("--password", help="Prefer --password-stdin: arguments show up in process lists.")
@click.option("--password-stdin", is_flag=True, help="Read the password from standard input.")
@click.option("--given-name")
@click.option("--family-name")
@click.option("--email-verified", is_flag=True, help="The address is known to be theirs.")
@click.option("--admin", is_flag=True, help="May use the admin console.")
@json_option
def users_create(username: str, email: str, password: str | None, password_stdin: bool,
                 given_name: str | None, family_name: str | None, email_verified: bool,
                 admin: bool, as_json: bool) -> None:
    """Create a user."""
    secret = secret_from(password, password_stdin)
    user = run(lambda: accounts.create_user(
        username, email, secret, given_name=given_name, family_name=family_name,
        email_verified=email_verified, admin=admin, origin=audit.CLI,
    ))
    emit(as_json, {"id": user.id, "username": user.username, "email": user.email},
         f"created user {user.username} ({user.id})")


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
