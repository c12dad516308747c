"""``flask idp clients …``."""

from __future__ import annotations

import json
from typing import Any

import click
from flask.cli import AppGroup

from ..models import Client
from ..models.client import ACCESS_TOKEN_ALGS, AUTH_METHODS, ID_TOKEN_ALGS, TOKEN_PROFILES
from ..services import audit, clients
from .base import emit, idp, json_option, run

clients_group = AppGroup("clients", help="Manage client applications.")
idp.add_command(clients_group)


@clients_group.command("create")
@click.option("--name", required=True, help="What people see on the sign-in and consent pages.")
@click.option("--client-id", help="Generated when omitted.")
@click.option("--client-secret", help="At least 32 characters; generated when omitted.")
@click.option("--redirect-uri", "redirect_uris", multiple=True, help="Repeatable.")
@click.option("--post-logout-redirect-uri", "post_logout_redirect_uris", multiple=True,
              help="Repeatable.")
@click.option("--grant-type", "grant_types", multiple=True,
              help="Repeatable; default authorization_code and refresh_token.")
@click.option("--scope", help='Space-separated, e.g. "openid profile email".')
@click.option("--auth-method", default="client_secret_basic", show_default=True,
              type=click.Choice(AUTH_METHODS), help="The only one it may use (none: public).")
@click.option("--skip-consent", is_flag=True, help="Never show the consent page.")
@click.option("--access-token-ttl", type=int, default=300, show_default=True,
              help="Seconds an access token lasts.")
@click.option("--refresh-token-ttl", type=int, default=30 * 24 * 3600, show_default=True,
              help="Seconds a refresh token lasts.")
@click.option("--max-groups-in-id-token", type=int, default=100, show_default=True,
              help="More groups than this leave the ID token (UserInfo has them all).")
@click.option("--org", help="Bind the client to an organization (by slug).")
@click.option("--require-pkce", is_flag=True, help="PKCE even for a confidential client.")
@click.option("--id-token-alg", type=click.Choice(ID_TOKEN_ALGS), default="RS256",
              show_default=True, help="How its ID tokens are signed.")
@click.option("--access-token-alg", type=click.Choice(ACCESS_TOKEN_ALGS), default="Ed25519",
              show_default=True, help="For tokens for no API (an API has its own).")
@click.option("--api", "apis", multiple=True, metavar="IDENTIFIER",
              help="Repeatable: the only APIs it may ask tokens for (default: any).")
@click.option("--default-api", metavar="IDENTIFIER",
              help="The API its tokens are for when a request names none.")
@click.option("--token-profile", type=click.Choice(TOKEN_PROFILES), default="rfc9068",
              show_default=True, help="privx: PrivX's domain, permissions, sessionid, userid.")
@click.option("--id-token-claims", is_flag=True,
              help="Put the profile and email claims in the ID token too (they are always at "
                   "UserInfo).")
@click.option("--require-mfa", is_flag=True,
              help="Its users sign in with a second factor (enrolling one if they have none).")
@json_option
def clients_create(name: str, client_id: str | None, client_secret: str | None,
                   redirect_uris: tuple[str, ...], post_logout_redirect_uris: tuple[str, ...],
                   grant_types: tuple[str, ...], scope: str | None, auth_method: str,
                   skip_consent: bool, access_token_ttl: int, refresh_token_ttl: int,
                   max_groups_in_id_token: int, org: str | None, require_pkce: bool,
                   id_token_alg: str, access_token_alg: str, apis: tuple[str, ...],
                   default_api: str | None, token_profile: str, id_token_claims: bool,
                   require_mfa: bool, as_json: bool) -> None:
    """Register a client; its secret is printed once and never stored."""
    new = run(lambda: clients.create_client(
        name, client_id=client_id, client_secret=client_secret, redirect_uris=redirect_uris,
        post_logout_redirect_uris=post_logout_redirect_uris, grant_types=grant_types,
        scope=scope, auth_method=auth_method, skip_consent=skip_consent,
        access_token_ttl=access_token_ttl, refresh_token_ttl=refresh_token_ttl,
        max_groups_in_id_token=max_groups_in_id_token, org=org, require_pkce=require_pkce,
        id_token_alg=id_token_alg, access_token_alg=access_token_alg, apis=apis,
        default_api=default_api, token_profile=token_profile, id_token_claims=id_token_claims,
        require_mfa=require_mfa, origin=audit.CLI,
    ))
    emit(as_json, {"client_id": new.client.client_id, "client_secret": new.client_secret},
         f"client_id:     {new.client.client_id}\n"
         f"client_secret: {new.client_secret or '(public client)'}")


def _shown(client: Client) -> dict[str, Any]:
    return {"client_id": client.client_id, **clients.settings_of(client),
            "public": client.is_public, "disabled": client.disabled,
            "version": client.version}


@clients_group.command("list")
@json_option
def clients_list(as_json: bool) -> None:
    """List clients (never a secret)."""
    rows = [_shown(c) for c in clients.all_clients()]
    emit(as_json, {"clients": rows}, "\n".join(
        f"{c['client_id']}\t{c['name']}\t{' '.join(c['grant_types'])}"
        f"{'  disabled' if c['disabled'] else ''}" for c in rows) or "(none)")


@clients_group.command("show")
@click.argument("client_id")
@json_option
def clients_show(client_id: str, as_json: bool) -> None:
    """One client's settings."""
    shown = _shown(run(lambda: clients.require_client(client_id)))
    emit(as_json, shown, "\n".join(f"{k}: {json.dumps(v) if isinstance(v, list) else v}"
                                   for k, v in shown.items()))


# ``update``'s options: the settings ``create`` takes; a list option replaces the list.
UPDATE_OPTIONS = [
    click.option("--name", help="What people see on the sign-in and consent pages."),
    click.option("--redirect-uri", "redirect_uris", multiple=True,
                 help="Repeatable; replaces them all."),
    click.option("--post-logout-redirect-uri", "post_logout_redirect_uris", multiple=True,
                 help="Repeatable; replaces them all."),
    click.option("--grant-type", "grant_types", multiple=True,
                 help="Repeatable; replaces them all."),
    click.option("--scope", help="Space-separated; replaces the scopes."),
    click.option("--auth-method", type=click.Choice(AUTH_METHODS),
                 help="Between client_secret_basic and client_secret_post only."),
    click.option("--skip-consent/--ask-consent", default=None,
                 help="Whether people see the consent page."),
    click.option("--access-token-ttl", type=int, help="Seconds an access token lasts."),
    click.option("--refresh-token-ttl", type=int, help="Seconds a refresh token lasts."),
    click.option("--max-groups-in-id-token", type=int,
                 help="More groups than this leave the ID token."),
    click.option("--org", help='An organization\'s slug; "" for none.'),
    click.option("--require-pkce/--no-require-pkce", default=None,
                 help="PKCE even for a confidential client."),
    click.option("--require-mfa/--no-require-mfa", default=None,
                 help="Its users sign in with a second factor."),
    click.option("--id-token-alg", type=click.Choice(ID_TOKEN_ALGS),
                 help="How its ID tokens are signed."),
    click.option("--access-token-alg", type=click.Choice(ACCESS_TOKEN_ALGS),
                 help="For tokens for no API (an API has its own)."),
    click.option("--api", "apis", multiple=True, metavar="IDENTIFIER",
                 help="Repeatable; replaces them all."),
    click.option("--default-api", metavar="IDENTIFIER", help='"" for none.'),
    click.option("--token-profile", type=click.Choice(TOKEN_PROFILES),
                 help="privx: PrivX's domain, permissions, sessionid, userid."),
    click.option("--id-token-claims/--no-id-token-claims", default=None,
                 help="Whether the profile and email claims go in the ID token too."),
    click.option("--logo-uri", help='https; "" for none.'),
    click.option("--client-uri", help='Its home page (https); "" for none.'),
    click.option("--policy-uri", help='"" for none.'),
    click.option("--tos-uri", help='"" for none.'),
]


def _update_options(command: Any) -> Any:
    for option in reversed(UPDATE_OPTIONS):
        command = option(command)
    return command


@clients_group.command("update")
@click.argument("client_id")
@_update_options
@json_option
def clients_update(client_id: str, as_json: bool, **given: Any) -> None:
    """Change some of a client's settings; what is not given stays."""
    changes = {name: (None if value == "" else list(value) if isinstance(value, tuple)
                      else value)
               for name, value in given.items() if value is not None and value != ()}
    client = run(lambda: clients.update_client(clients.require_client(client_id), changes,
                                               origin=audit.CLI))
    emit(as_json, _shown(client), f"updated client {client_id}")


@clients_group.command("rotate-secret")
@click.argument("client_id")
@json_option
def clients_rotate_secret(client_id: str, as_json: bool) -> None:
    """A new secret, printed once; the old one stops working at once (here at once,
    in other server processes within IDP_CLIENT_CACHE_SECONDS)."""
    secret = run(lambda: clients.rotate_secret(clients.require_client(client_id),
                                               origin=audit.CLI))
    emit(as_json, {"client_id": client_id, "client_secret": secret},
         f"client_id:     {client_id}\nclient_secret: {secret}")


@clients_group.command("disable")
@click.argument("client_id")
def clients_disable(client_id: str) -> None:
    """Stop a client: no sign-ins, no tokens, and its tokens stop working."""
    run(lambda: clients.set_disabled(clients.require_client(client_id), True,
                                     origin=audit.CLI))
    click.echo(f"disabled client {client_id}")


@clients_group.command("enable")
@click.argument("client_id")
def clients_enable(client_id: str) -> None:
    """Let a disabled client work again."""
    run(lambda: clients.set_disabled(clients.require_client(client_id), False,
                                     origin=audit.CLI))
    click.echo(f"enabled client {client_id}")


@clients_group.command("delete")
@click.argument("client_id")
@click.option("--yes", is_flag=True, help="Do not ask for confirmation.")
def clients_delete(client_id: str, yes: bool) -> None:
    """Delete a client with its tokens, codes and consents (disable it to keep them)."""
    client = run(lambda: clients.require_client(client_id))
    if not yes:
        click.confirm(f"Delete {client.name} ({client_id}) and every token it holds?",
                      abort=True)
    run(lambda: clients.delete_client(client, origin=audit.CLI))
    click.echo(f"deleted client {client_id}")
