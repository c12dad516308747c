"""``flask idp keys …``."""

from __future__ import annotations

import click
from flask.cli import AppGroup
from sqlalchemy import select

from ..extensions import db
from ..models import SigningKey
from ..oauth import keys
from ..services import audit
from .base import emit, idp, json_option

keys_group = AppGroup("keys", help="Manage signing keys.")
idp.add_command(keys_group)


@keys_group.command("list")
@json_option
def keys_list(as_json: bool) -> None:
    """List signing keys: current, retired but published, retired."""
    published = {k.kid for k in keys.published_keys()}
    rows = db.session.scalars(select(SigningKey).order_by(SigningKey.created_at)).all()
    listed = [
        {"kid": k.kid, "alg": k.alg, "created_at": k.created_at, "retired_at": k.retired_at,
         "state": "current" if k.retired_at is None else
                  ("published" if k.kid in published else "retired")}
        for k in rows
    ]
    emit(as_json, {"keys": listed},
         "\n".join(f"{k['kid']}  {k['alg']:<8} {k['state']}" for k in listed))


@keys_group.command("rotate")
@click.option("--alg", type=click.Choice(list(keys.KEY_ALGS)), default="Ed25519",
              show_default=True)
def keys_rotate(alg: str) -> None:
    """Make a new current key; the old one stays published until its tokens expire."""
    key = keys.rotate(alg)
    audit.record("key.rotated", audit.CLI, kid=key.kid, alg=alg)
    db.session.commit()
    keys.store().invalidate()
    click.echo(f"new current {alg} key {key.kid}")
