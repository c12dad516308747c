"""``flask idp init`` and ``flask idp purge``."""

from __future__ import annotations

import click
from flask import current_app
from flask_migrate import upgrade

from .. import playground
from ..oauth import keys
from ..services import housekeeping
from .base import idp, run


@idp.command("init")
@click.option("--demo", is_flag=True,
              help="Also create the demo organizations, users and clients, and the "
                   "playground's client.")
def init_command(demo: bool) -> None:
    """Create or upgrade the schema, create signing keys, seed demo data. Idempotent.
    With IDP_PLAYGROUND on (or --demo), also register the playground's client."""
    upgrade(directory=current_app.extensions["migrate"].directory)
    for key in run(keys.ensure_keys):
        click.echo(f"created {key.alg} signing key {key.kid}")
    if demo:
        from .. import demo as demo_data

        run(demo_data.seed)
        click.echo(demo_data.describe(current_app.config["IDP_ISSUER"]))
    if demo or playground.enabled():
        run(playground.ensure_client)
        click.echo(f"playground: {playground.logged_out_uri()} (client "
                   f"{playground.CLIENT_ID!r}; serve with IDP_PLAYGROUND=on to open it)")


@idp.command("purge")
def purge_command() -> None:
    """Delete what has expired (codes, grants, revoked-token entries, interactions, login
    sessions), in small batches."""
    counts = housekeeping.purge()
    click.echo(", ".join(f"{n} {what}" for what, n in counts.items()) + " deleted")
