"""ID tokens (OpenID Connect Core §2, §3.1.3.6).

Rules:
- signed with the client's ``id_token_signed_response_alg`` (RS256 default,
  ES256, Ed25519), ``kid`` of a key in the JWKS;
- iss, sub, aud (the client), azp, exp, iat, auth_time always; nonce when
  the request had one; sid, acr, amr of the login session; at_hash of the
  access token, with SHA-512 for Ed25519 as for EdDSA;
- ``sub``, the organization (``org`` scope) and the groups (capped at
  ``maxGroupsInIdToken``); the profile and email claims only for a client that
  reads them here (``id_token_claims``): an access token is always issued with
  an ID token here, and then OIDC Core §5.4 returns them from UserInfo.
"""

from __future__ import annotations

import base64
import hashlib
from typing import Any

from flask import current_app
from joserfc import jwt
from joserfc.errors import JoseError

from ..clock import now
from ..models import Client, User
from ..services import orgs
from . import keys
from .claims import group_claims, org_claims, profile_claims, requested_claims, wants_groups

HALF_HASH = {"RS256": hashlib.sha256, "ES256": hashlib.sha256, "Ed25519": hashlib.sha512}
ID_TOKEN_ALGS = list(HALF_HASH)


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
    max_groups: int | None = None,
    claims_request: dict[str, Any] | None = None,
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
    scopes = set(scope.split())
    claims["sub"] = user.id
    if client.id_token_claims:  # the client reads them here, not at UserInfo
        claims.update(profile_claims(user, scopes))
    claims.update(org_claims(user, scopes, org_id))
    claims.update(requested_claims(user, claims_request, "id_token"))
    if wants_groups(scopes):
        limit = client.max_groups_in_id_token if max_groups is None else max_groups
        groups, truncated = group_claims(orgs.user_groups(user.id, org_id), scopes, limit)
        claims.update(groups)
        if truncated:
            # OIDC Core §5.6.2 distributed claims: the whole list is at UserInfo.
            source = {"endpoint": current_app.config["IDP_ISSUER"] + "/oauth/userinfo"}
            claims["_claim_names"] = {name: "userinfo" for name in groups}
            claims["_claim_sources"] = {"userinfo": source}
    return keys.sign(claims, alg)


def verify_hint(token: str) -> dict[str, Any] | None:
    """The claims of an ID token we issued (expired or not), or None.

    Used for ``id_token_hint``: signature by one of our keys with an ID token
    algorithm (never ``none`` or HMAC), our issuer, a subject; and an ID token,
    not one of our access tokens (``typ: at+jwt``, a ``scope``), which are signed
    with the same keys.
    """
    if not token or len(token) > 16_384 or token.count(".") != 2:
        return None
    try:
        decoded = jwt.decode(token, keys.verification_keys(), ID_TOKEN_ALGS)
    except (JoseError, ValueError, TypeError):
        return None
    claims = decoded.claims
    if decoded.header.get("typ") != "JWT" or "scope" in claims or "client_id" in claims:
        return None
    if claims.get("iss") != current_app.config["IDP_ISSUER"] or not claims.get("sub"):
        return None
    return claims
