"""Protocol endpoints: authorize (browser-facing), token, userinfo.

The token and userinfo endpoints are machine endpoints: JSON only, no CSRF
token (clients authenticate themselves), ``Cache-Control: no-store``.
"""

from __future__ import annotations

from authlib.oauth2 import OAuth2Error
from flask import Blueprint, jsonify, request
from flask.typing import ResponseReturnValue

from ..errors import error_response
from ..extensions import csrf
from ..oauth import interaction, machine_requests
from ..oauth.bearer import protector
from ..oauth.server import current_server
from ..oauth.userinfo import userinfo as userinfo_claims
from ..security import ratelimit
from ..services import upstreams
from ._request import person

bp = Blueprint("oauth", __name__)
csrf.exempt(bp)

MAX_AUTHORIZE_VALUE = 4096  # a state or nonce longer than this is not a real client's


@bp.route("/oauth/authorize", methods=["GET", "POST"])
def authorize() -> ResponseReturnValue:
    """Start or continue an authorization request (GET and POST are equivalent)."""
    if "oidc_id" in request.values and upstreams.find(request.values["oidc_id"]) is None:
        return error_response(404, "Unknown identity provider in 'oidc_id'.", "invalid_request",
                              as_json=True)
    params = request.values  # GET and POST are equivalent (OIDC Core §3.1.2.1)
    if any(len(value) > MAX_AUTHORIZE_VALUE for value in params.values()):
        return error_response(400, "A parameter is too long.", "invalid_request")
    return interaction.authorize(params, person())


@bp.get("/oauth/authorize/<interaction_id>")
def resume(interaction_id: str) -> ResponseReturnValue:
    """Go on with an interaction after one of its pages: the next page, or the answer."""
    return interaction.resume(interaction_id, person())


@bp.post("/oauth/token")
@ratelimit.token
def token() -> ResponseReturnValue:
    if (refused := machine_requests.refusal()) is not None:
        return refused
    return current_server().create_token_response()


@bp.post("/oauth/introspect")
@ratelimit.introspection
def introspect() -> ResponseReturnValue:
    return _token_endpoint("introspection")


@bp.post("/oauth/revoke")
@ratelimit.revocation
def revoke() -> ResponseReturnValue:
    return _token_endpoint("revocation")


def _token_endpoint(name: str) -> ResponseReturnValue:
    if (refused := machine_requests.refusal()) is not None:
        return refused
    return current_server().create_endpoint_response(name)


@bp.route("/oauth/userinfo", methods=["GET", "POST"])
def userinfo() -> ResponseReturnValue:
    try:
        token = protector.acquire_token("openid")
        body = userinfo_claims(token)
    except OAuth2Error as error:
        status, payload, headers = error()
        response = jsonify(payload)
        response.status_code = status
        response.headers.update((k, v) for k, v in headers if k == "WWW-Authenticate")
        if status == 403:  # RFC 6750 §3.1: say which scope is missing
            response.headers["WWW-Authenticate"] = (
                'Bearer error="insufficient_scope", scope="openid"')
        response.headers["Cache-Control"] = "no-store"
        return response
    response = jsonify(body)
    response.headers["Cache-Control"] = "no-store"
    return response
