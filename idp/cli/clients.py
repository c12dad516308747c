"""``flask idp clients …``."""

from __future__ import annotations

import click
from flask.cli import AppGroup

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
@click.option("--access-token-ttl", type=int, default=300, show_default=True)
@click.option("--refresh-token-ttl", type=int, default=30 * 24 * 3600, show_default=True)
@click.option("--max-groups-in-id-token", type=int, default=100, show_default=True)
@click.option("--org", help="Bind the client to an organization (by slug).")
@click.option("--require-pkce", is_flag=True, help="PKCE even for a confidential client.")
@click.option("--id-token-alg", type=click.Choice(ID_TOKEN_ALGS), default="RS256",
              show_default=True)
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
        require_mfa=require_mfa,
    ))
    run(lambda: audit.record("client.created", audit.CLI, client_id=new.client.client_id))
    emit(as_json, {"client_id": new.client.client_id, "client_secret": new.client_secret},
         f"client_id:     {new.client.client_id}\n"
         f"client_secret: {new.client_secret or '(public client)'}")
