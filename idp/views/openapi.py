"""``/openapi.json``: the OpenAPI 3.1 description of every endpoint, as shipped.

The document is a static file in the package (``idp/openapi.json``), the one
source of truth; it is read once, on first use, and served byte for byte.
"""

from __future__ import annotations

from functools import cache
from importlib import resources

from flask import Blueprint, Response

from ..extensions import csrf

bp = Blueprint("openapi", __name__)
csrf.exempt(bp)

DOCUMENT = "openapi.json"


@cache
def document() -> bytes:
    """The packaged document's bytes."""
    return resources.files("idp").joinpath(DOCUMENT).read_bytes()


@bp.get("/openapi.json")
def openapi():
    response = Response(document(), mimetype="application/json")
    response.headers["Cache-Control"] = "public, max-age=300"
    return response
