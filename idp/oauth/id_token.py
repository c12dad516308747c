"""ID tokens (OpenID Connect Core §2, §3.1.3.6).

Rules:
- signed with the client's ``id_token_signed_response_alg`` (RS256 default,
  ES256, Ed25519), ``kid`` of a key in the JWKS;
- iss, sub, aud (the client), azp, exp, iat, auth_time always; nonce when
  the request had one; sid, acr, amr of the login session; at_hash of the
  access token, with SHA-512 for Ed25519 as for EdDSA;
- the user claims the granted scopes release.
"""

from __future__ import annotations

import base64
import hashlib
from typing import Any

from flask import current_app

from ..models import Client, User
from ..models._common import now
from ..services import orgs
from . import keys
from .claims import user_claims

HALF_HASH = {"RS256": hashlib.sha256, "ES256": hashlib.sha256, "Ed25519": hashlib.sha512}


def half_hash(value: str, alg: str) -> str:
    digest = HALF_HASH[alg](value.encode("ascii")).digest()
    return base64.urlsafe_b64encode(digest[: len(digest) // 2]).rstrip(b"=").decode("ascii")


def build(
    *,
    client: Client,
    user: User,
    scope: str,
    auth_time: int,
    access_token: str | None = None,
    nonce: str | None = None,
    sid: str | None = None,
    org_id: str | None = None,
    acr: str | None = None,
    amr: list[str] | None = None,
) -> str:
    alg = client.id_token_signed_response_alg
    issued_at = now()
    claims: dict[str, Any] = {
        "iss": current_app.config["IDP_ISSUER"],
        "aud": client.client_id,
        "azp": client.client_id,
        "exp": issued_at + int(current_app.config["IDP_ID_TOKEN_TTL"]),
        "iat": issued_at,
        "auth_time": auth_time,
        "acr": acr or "1",
    }
    if nonce:
        claims["nonce"] = nonce
    if sid:
        claims["sid"] = sid
    if amr:
        claims["amr"] = amr
    if access_token:
        claims["at_hash"] = half_hash(access_token, alg)
    org, role = None, None
    if org_id and (membership := orgs.membership(user.id, org_id)):
        org, role = membership.org, membership.role
    claims.update(user_claims(user, set(scope.split()), org, role))
    return keys.sign(claims, alg)
