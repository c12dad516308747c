"""Discovery and keys: public, cacheable, JSON."""

from __future__ import annotations

from flask import Blueprint, jsonify

from ..extensions import csrf
from ..oauth import keys, metadata

bp = Blueprint("well_known", __name__)
csrf.exempt(bp)


@bp.get("/.well-known/openid-configuration")
@bp.get("/.well-known/oauth-authorization-server")
def discovery():
    response = jsonify(metadata.document())
    response.headers["Cache-Control"] = "public, max-age=300"
    response.headers["Access-Control-Allow-Origin"] = "*"
    return response


@bp.get("/.well-known/jwks.json")
def jwks():
    response = jsonify(keys.jwks())
    response.headers["Cache-Control"] = "public, max-age=60"
    response.headers["Access-Control-Allow-Origin"] = "*"
    return response
