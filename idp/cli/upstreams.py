"""``flask idp upstreams …``: identity providers people may sign in through."""

from __future__ import annotations

import click
from flask.cli import AppGroup

from ..services import audit, upstreams
from ..services.upstreams import CLAIM_NAMES, DEFAULT_SCOPE
from .base import emit, idp, json_option, pairs, run

upstreams_group = AppGroup("upstreams", help="Manage upstream identity providers.")
idp.add_command(upstreams_group)


@upstreams_group.command("create")
@click.argument("upstream_id", metavar="ID")
@click.option("--name", required=True, help='What the login button says: "Sign in with NAME".')
@click.option("--issuer", help="An OpenID provider's issuer URL (found by discovery).")
@click.option("--authorize-url", help="Without --issuer: the authorization endpoint.")
@click.option("--token-url", help="Without --issuer: the token endpoint.")
@click.option("--userinfo-url", help="Without --issuer: where to read who signed in.")
@click.option("--client-id", required=True, help="This IdP's client id at the upstream.")
@click.option("--client-secret", required=True,
              help="Its client secret there (stored encrypted).")
@click.option("--scope", help=f'Scopes to ask for; default "{DEFAULT_SCOPE}" with --issuer.')
@click.option("--claim", "claims", multiple=True, metavar="CLAIM=FIELD",
              help=f"Repeatable: which upstream field holds a claim ({', '.join(CLAIM_NAMES)});"
                   " default without --issuer: sub=id email=email name=name username=login.")
@click.option("--link-by-verified-email", is_flag=True,
              help="A first sign-in links to the account with the same email, when the "
                   "upstream says the email is verified.")
@click.option("--create-users", is_flag=True,
              help="A first sign-in with no account to link to creates one.")
@click.option("--org", help="Its users become members of this organization (by slug).")
@click.option("--groups-claim",
              help="With --org: the claim listing the user's groups there (e.g. groups).")
@json_option
def upstreams_create(upstream_id: str, name: str, issuer: str | None,
                     authorize_url: str | None, token_url: str | None,
                     userinfo_url: str | None, client_id: str, client_secret: str,
                     scope: str | None, claims: tuple[str, ...], link_by_verified_email: bool,
                     create_users: bool, org: str | None, groups_claim: str | None,
                     as_json: bool) -> None:
    """Add an upstream provider; its callback is ISSUER/upstream/ID/callback."""
    mapping = pairs(claims, "--claim", "CLAIM=FIELD")
    upstream = run(lambda: upstreams.create_upstream(
        upstream_id, name, client_id=client_id, client_secret=client_secret, issuer=issuer,
        authorize_url=authorize_url, token_url=token_url, userinfo_url=userinfo_url,
        scope=scope, claims=mapping, link_by_verified_email=link_by_verified_email,
        create_users=create_users, org=org, groups_claim=groups_claim, origin=audit.CLI))
    from ..oauth.upstream_client import callback_url

    callback = callback_url(upstream)
    emit(as_json, {"id": upstream.id, "name": upstream.name, "callback_url": callback},
         f"created upstream {upstream.id}; register this redirect URI there: {callback}")


@upstreams_group.command("list")
@json_option
def upstreams_list(as_json: bool) -> None:
    """The upstream providers (secrets are never shown)."""
    found = upstreams.all_upstreams()
    rows = [{"id": u.id, "name": u.name, "issuer": u.issuer, "authorize_url": u.authorize_url,
             "client_id": u.client_id, "scope": u.scope,
             "link_by_verified_email": u.link_by_verified_email,
             "create_users": u.create_users} for u in found]
    emit(as_json, {"upstreams": rows}, "\n".join(
        f"{u.id}\t{u.name}\t{u.issuer or u.authorize_url}" for u in found) or "(none)")


@upstreams_group.command("delete")
@click.argument("upstream_id", metavar="ID")
@click.option("--force", is_flag=True,
              help="Even if some users can sign in no other way (they are locked out).")
def upstreams_delete(upstream_id: str, force: bool) -> None:
    """Delete an upstream provider and the identities linked through it."""
    linked = run(lambda: upstreams.delete_upstream(upstream_id, force=force,
                                                   origin=audit.CLI))
    click.echo(f"deleted upstream {upstream_id} and {linked} linked identit"
               f"{'y' if linked == 1 else 'ies'}")
