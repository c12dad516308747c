"""``flask idp orgs …`` and ``flask idp groups …``."""

from __future__ import annotations

import click
from flask.cli import AppGroup

from ..models.org import ROLES
from ..services import ServiceError, orgs
from .base import emit, idp, json_option, run, user

orgs_group = AppGroup("orgs", help="Manage organizations.")
idp.add_command(orgs_group)
groups = AppGroup("groups", help="Manage groups within organizations.")
idp.add_command(groups)


@orgs_group.command("create")
@click.argument("slug")
@click.option("--name", required=True, help="The name people see.")
@click.option("--require-mfa", is_flag=True,
              help="Its members sign in to it with a second factor.")
@json_option
def orgs_create(slug: str, name: str, require_mfa: bool, as_json: bool) -> None:
    """Create an organization (SLUG: lowercase letters, digits and dashes)."""
    org = run(lambda: orgs.create_org(slug, name, require_mfa=require_mfa))
    emit(as_json, {"id": org.id, "slug": org.slug, "name": org.name},
         f"created organization {org.slug} ({org.id})")


@orgs_group.command("add-member")
@click.argument("slug")
@click.argument("username")
@click.option("--role", type=click.Choice(ROLES), default="member", show_default=True)
def orgs_add_member(slug: str, username: str, role: str) -> None:
    """Add a user to an organization (or change their role)."""
    run(lambda: orgs.add_member(orgs.require_org(slug), user(username), role))
    click.echo(f"{username} is now {role} of {slug}")


@groups.command("create")
@click.argument("org_slug")
@click.argument("name")
@json_option
def groups_create(org_slug: str, name: str, as_json: bool) -> None:
    """Create a group in an organization."""
    group = run(lambda: orgs.create_group(orgs.require_org(org_slug), name))
    emit(as_json, {"id": group.id, "org": org_slug, "name": group.name},
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
        orgs.add_group_member(group, user(username))

    run(add)
    click.echo(f"{username} is now in group {name} of {org_slug}")
