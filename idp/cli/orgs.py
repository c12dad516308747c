"""``flask idp orgs …`` and ``flask idp groups …``."""

from __future__ import annotations

from typing import Any

import click
from flask.cli import AppGroup

from .. import mail
from ..models import Group, Organization
from ..models.org import ROLES
from ..services import ServiceError, audit, invitations, orgs
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
    org = run(lambda: orgs.create_org(slug, name, require_mfa=require_mfa, origin=audit.CLI))
    emit(as_json, {"id": org.id, "slug": org.slug, "name": org.name},
         f"created organization {org.slug} ({org.id})")


@orgs_group.command("add-member")
@click.argument("slug")
@click.argument("username")
@click.option("--role", type=click.Choice(ROLES), default="member", show_default=True,
              help="What they may do in it.")
def orgs_add_member(slug: str, username: str, role: str) -> None:
    """Add a user to an organization (or change their role)."""
    run(lambda: orgs.add_member(orgs.require_org(slug), user(username), role,
                                origin=audit.CLI))
    click.echo(f"{username} is now {role} of {slug}")


@groups.command("create")
@click.argument("org_slug")
@click.argument("name")
@json_option
def groups_create(org_slug: str, name: str, as_json: bool) -> None:
    """Create a group in an organization."""
    group = run(lambda: orgs.create_group(orgs.require_org(org_slug), name, origin=audit.CLI))
    emit(as_json, {"id": group.id, "org": org_slug, "name": group.name},
         f"created group {name} in {org_slug} ({group.id})")


@groups.command("add-member")
@click.argument("org_slug")
@click.argument("name")
@click.argument("username")
def groups_add_member(org_slug: str, name: str, username: str) -> None:
    """Add a user to a group."""

    run(lambda: orgs.add_group_member(_group(org_slug, name), user(username),
                                      origin=audit.CLI))
    click.echo(f"{username} is now in group {name} of {org_slug}")


def _org(org: Organization) -> dict[str, Any]:
    return {"id": org.id, "slug": org.slug, "name": org.name, "require_mfa": org.require_mfa,
            "version": org.version}


@orgs_group.command("list")
@json_option
def orgs_list(as_json: bool) -> None:
    """List organizations by name."""
    rows = [_org(o) for o in orgs.all_orgs()]
    emit(as_json, {"orgs": rows},
         "\n".join(f"{o['slug']}\t{o['name']}" for o in rows) or "(none)")


@orgs_group.command("show")
@click.argument("slug")
@json_option
def orgs_show(slug: str, as_json: bool) -> None:
    """An organization with its members, groups and bound clients."""
    org = run(lambda: orgs.require_org(slug))
    shown = {**_org(org),
             "members": [{"username": u.username, "role": m.role}
                         for m, u in orgs.members(org)],
             "groups": [g.name for g in orgs.groups_of(org)],
             "clients": [c.client_id for c in orgs.bound_clients(org)]}
    emit(as_json, shown, "\n".join(f"{k}: {v}" for k, v in shown.items()))


@orgs_group.command("update")
@click.argument("slug")
@click.option("--name", help="The name people see.")
@click.option("--require-mfa/--no-require-mfa", default=None,
              help="Whether its members sign in to it with a second factor.")
def orgs_update(slug: str, name: str | None, require_mfa: bool | None) -> None:
    """Rename an organization, or change whether it requires a second factor."""
    run(lambda: orgs.update_org(orgs.require_org(slug), name=name, require_mfa=require_mfa,
                                origin=audit.CLI))
    click.echo(f"updated organization {slug}")


@orgs_group.command("delete")
@click.argument("slug")
@click.option("--yes", is_flag=True, help="Do not ask for confirmation.")
def orgs_delete(slug: str, yes: bool) -> None:
    """Delete an organization with its memberships and groups (refused while clients
    are bound to it)."""
    org = run(lambda: orgs.require_org(slug))
    if not yes:
        click.confirm(f"Delete {org.name} with its memberships and groups?", abort=True)
    run(lambda: orgs.delete_org(org, origin=audit.CLI))
    click.echo(f"deleted organization {slug}")


@orgs_group.command("remove-member")
@click.argument("slug")
@click.argument("username")
def orgs_remove_member(slug: str, username: str) -> None:
    """Take a user out of an organization and its groups."""
    run(lambda: orgs.remove_member(orgs.require_org(slug), user(username), origin=audit.CLI))
    click.echo(f"{username} is no longer a member of {slug}")


def _group(org_slug: str, name: str) -> Group:
    group = orgs.find_group(orgs.require_org(org_slug), name)
    if group is None:
        raise ServiceError(f"no group {name!r} in {org_slug!r}")
    return group


@groups.command("list")
@click.argument("org_slug")
@json_option
def groups_list(org_slug: str, as_json: bool) -> None:
    """List an organization's groups."""
    found = run(lambda: orgs.groups_of(orgs.require_org(org_slug)))
    rows = [{"id": g.id, "name": g.name, "members": len(orgs.group_members(g))} for g in found]
    emit(as_json, {"groups": rows},
         "\n".join(f"{g['name']}\t{g['members']} member(s)" for g in rows) or "(none)")


@groups.command("show")
@click.argument("org_slug")
@click.argument("name")
@json_option
def groups_show(org_slug: str, name: str, as_json: bool) -> None:
    """A group and its members."""
    group = run(lambda: _group(org_slug, name))
    shown = {"id": group.id, "org": org_slug, "name": group.name,
             "members": [u.username for u in orgs.group_members(group)]}
    emit(as_json, shown, "\n".join(f"{k}: {v}" for k, v in shown.items()))


@groups.command("update")
@click.argument("org_slug")
@click.argument("name")
@click.option("--name", "new_name", required=True, help="The group's new name.")
def groups_update(org_slug: str, name: str, new_name: str) -> None:
    """Rename a group."""
    run(lambda: orgs.rename_group(_group(org_slug, name), new_name, origin=audit.CLI))
    click.echo(f"renamed group {name} of {org_slug} to {new_name}")


@groups.command("delete")
@click.argument("org_slug")
@click.argument("name")
def groups_delete(org_slug: str, name: str) -> None:
    """Delete a group (its members stay in the organization)."""
    run(lambda: orgs.delete_group(_group(org_slug, name), origin=audit.CLI))
    click.echo(f"deleted group {name} of {org_slug}")


@groups.command("remove-member")
@click.argument("org_slug")
@click.argument("name")
@click.argument("username")
def groups_remove_member(org_slug: str, name: str, username: str) -> None:
    """Take a user out of a group."""
    run(lambda: orgs.remove_group_member(_group(org_slug, name), user(username),
                                         origin=audit.CLI))
    click.echo(f"{username} is no longer in group {name} of {org_slug}")


@orgs_group.command("invite")
@click.argument("slug")
@click.argument("email")
@click.option("--role", type=click.Choice(ROLES), default="member", show_default=True,
              help="What they may do in it once they accept.")
def orgs_invite(slug: str, email: str, role: str) -> None:
    """Mail EMAIL an invitation to the organization. Accepting it creates their account
    (or adds the organization to the one they have) and the membership."""
    run(lambda: invitations.invite(orgs.require_org(slug), email, role, origin=audit.CLI))
    if not mail.delivered():
        raise click.ClickException(f"the invitation to {email} is not sent yet: the mail "
                                   "server did not take it (see the log); invite again later")
    click.echo(f"invitation to {slug} mailed to {email}")
