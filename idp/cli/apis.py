"""``flask idp apis …`` and ``flask idp roles …``."""

from __future__ import annotations

from typing import Any

import click
from flask.cli import AppGroup

from ..services import ServiceError, apis, audit, orgs
from ..services.apis import ACCESS_TOKEN_ALGS
from .base import emit, idp, json_option, pairs, run, user

apis_group = AppGroup("apis", help="Manage APIs (resource servers).")
idp.add_command(apis_group)
roles_group = AppGroup("roles", help="Manage roles and the permissions they give.")
idp.add_command(roles_group)


@apis_group.command("create")
@click.argument("identifier")
@click.option("--name", required=True, help="What people see on the consent page.")
@click.option("--scope", default="", help='Its scopes, space-separated: "read:x write:x".')
@click.option("--describe", "descriptions", multiple=True, metavar="SCOPE=TEXT",
              help="Repeatable: a scope's words on the consent page.")
@click.option("--access-token-alg", type=click.Choice(ACCESS_TOKEN_ALGS), default="RS256",
              show_default=True, help="How its tokens are signed (RFC 9068 requires RS256).")
@click.option("--access-token-ttl", type=int, default=300, show_default=True,
              help="Its tokens' longest lifetime, in seconds.")
@json_option
def apis_create(identifier: str, name: str, scope: str, descriptions: tuple[str, ...],
                access_token_alg: str, access_token_ttl: int, as_json: bool) -> None:
    """Register an API: IDENTIFIER (an absolute URI) is its tokens' aud. Prints its
    introspection credentials, once."""
    described = pairs(descriptions, "--describe", "SCOPE=DESCRIPTION")
    new = run(lambda: apis.create_api(identifier, name, scope, descriptions=described,
                                      access_token_alg=access_token_alg,
                                      access_token_ttl=access_token_ttl, origin=audit.CLI))
    emit(as_json, {"identifier": new.api.identifier, "client_id": new.api.client_id,
                   "client_secret": new.client_secret},
         f"identifier:    {new.api.identifier}\nclient_id:     {new.api.client_id}\n"
         f"client_secret: {new.client_secret}   (for introspection; shown once)")


@apis_group.command("list")
@json_option
def apis_list(as_json: bool) -> None:
    """List the APIs."""
    listed: list[dict[str, Any]] = [{"identifier": a.identifier, "name": a.name, "scopes": a.scopes,
               "access_token_alg": a.access_token_alg, "access_token_ttl": a.access_token_ttl,
               "client_id": a.client_id} for a in apis.all_apis()]
    emit(as_json, {"apis": listed},
         "\n".join(f"{a['identifier']}  {a['name']}  ({a['access_token_alg']}) "
                   f"{' '.join(s['name'] for s in a['scopes'])}" for a in listed))


@roles_group.command("create")
@click.argument("name")
@click.option("--api", metavar="IDENTIFIER", help="The API it is for (default: every API).")
@click.option("--permission", "permissions", multiple=True, help="Repeatable.")
@click.option("--description", help="What the role is for, in words for administrators.")
@json_option
def roles_create(name: str, api: str | None, permissions: tuple[str, ...],
                 description: str | None, as_json: bool) -> None:
    """Create a role holding permissions."""
    role = run(lambda: apis.create_role(name, list(permissions), api=api,
                                        description=description))
    emit(as_json, {"id": role.id, "name": role.name, "api": api,
                   "permissions": role.permissions},
         f"created role {role.name} ({', '.join(role.permissions) or 'no permissions'})")


@roles_group.command("assign")
@click.argument("name")
@click.option("--api", metavar="IDENTIFIER", help="The role's API, if it has one.")
@click.option("--user", "username", help="A user (by username or email).")
@click.option("--group", "group", metavar="ORG_SLUG/NAME", help="Everyone in a group.")
def roles_assign(name: str, api: str | None, username: str | None, group: str | None) -> None:
    """Give a role to a user, or to everyone in a group."""

    def assign() -> None:
        role = apis.require_role(name, api)
        if group is not None:
            slug, _, group_name = group.partition("/")
            found = orgs.find_group(orgs.require_org(slug), group_name)
            if found is None:
                raise ServiceError(f"no group {group_name!r} in {slug!r}")
            apis.assign_role(role, group_id=found.id)
        else:
            apis.assign_role(role, user=user(username) if username else None)

    run(assign)
    click.echo(f"role {name} given to {username or group}")


@roles_group.command("list")
@json_option
def roles_list(as_json: bool) -> None:
    """List the roles."""
    from sqlalchemy import select

    from ..extensions import db
    from ..models import Api, Role

    rows = db.session.execute(select(Role, Api).outerjoin(Api, Api.id == Role.api_id)
                              .order_by(Role.name)).all()
    listed: list[dict[str, Any]] = [
        {"name": r.name, "api": a.identifier if a else None, "permissions": r.permissions}
        for r, a in rows]
    emit(as_json, {"roles": listed},
         "\n".join(f"{r['name']}  {r['api'] or '(every API)'}  {','.join(r['permissions'])}"
                   for r in listed))
