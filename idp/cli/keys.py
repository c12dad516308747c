"""``flask idp keys …``."""

from __future__ import annotations

import click
from flask.cli import AppGroup

from ..oauth import keys
from ..services import audit
from .base import emit, idp, json_option, run

keys_group = AppGroup("keys", help="Manage signing keys.")
idp.add_command(keys_group)


@keys_group.command("list")
@json_option
def keys_list(as_json: bool) -> None:
    """List signing keys: current, retired but published, retired."""
    listed = [{"kid": k.kid, "alg": k.alg, "created_at": k.created_at,
               "retired_at": k.retired_at, "state": state} for k, state in keys.states()]
    emit(as_json, {"keys": listed},
         "\n".join(f"{k['kid']}  {k['alg']:<8} {k['state']}" for k in listed))


@keys_group.command("rotate")
@click.option("--alg", type=click.Choice(list(keys.KEY_ALGS)), default="Ed25519",
              show_default=True, help="The algorithm whose key is replaced.")
def keys_rotate(alg: str) -> None:
    """Make a new current key; the old one stays published until its tokens expire."""
    key = run(lambda: keys.rotate(alg, audit.CLI))
    keys.store().invalidate()
    click.echo(f"new current {alg} key {key.kid}")


@keys_group.command("withdraw")
@click.argument("kid")
def keys_withdraw(kid: str) -> None:
    """Stop publishing a retired key at once (it leaked): tokens it signed stop verifying."""
    run(lambda: keys.withdraw(kid, audit.CLI))
    keys.store().invalidate()
    click.echo(f"key {kid} withdrawn")
