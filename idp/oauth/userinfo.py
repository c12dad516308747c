"""UserInfo (OIDC Core §5.3) in the Clerk shape.

Rules:
- needs an access token with ``openid``;
- the OIDC claims the token's scopes release, plus Clerk's fields: ``object``,
  ``instance_id``, ``user_id``, ``username``, names, email, picture,
  ``public_metadata``, ``unsafe_metadata``; ``private_metadata`` only with the
  ``private_metadata`` scope;
- a disabled or deleted user is ``invalid_token``.
"""

from __future__ import annotations

import hashlib
from typing import Any

from authlib.oauth2.rfc6750 import InvalidTokenError
from flask import current_app

from ..services import orgs
from ..services.grants import ActiveToken
from .claims import group_claims, user_claims, wants_groups


def instance_id() -> str:
    """A stable identifier of this installation: derived from the issuer."""
    digest = hashlib.sha256(current_app.config["IDP_ISSUER"].encode()).hexdigest()
    return f"ins_{digest[:24]}"


def userinfo(token: ActiveToken) -> dict[str, Any]:
    user = token.user
    if user is None or user.disabled:
        raise InvalidTokenError("The token's user no longer exists or is disabled.")
    scopes = set(token.scope.split())
    claims: dict[str, Any] = {
        "object": "oauth_user_info",
        "instance_id": instance_id(),
        "user_id": user.id,
        "username": user.username,
        "email": user.email,
        "email_verified": bool(user.email_verified),
        "family_name": user.family_name,
        "given_name": user.given_name,
        "name": user.name,
        "preferred_username": user.username,
        "picture": user.picture,
        "public_metadata": user.public_metadata or {},
        "unsafe_metadata": user.unsafe_metadata or {},
    }
    claims = {k: v for k, v in claims.items() if v is not None}
    claims.update(user_claims(user, scopes, token.org_id))
    if wants_groups(scopes):  # the whole list: the ID token may carry only part
        claims.update(group_claims(orgs.user_groups(user.id, token.org_id), scopes)[0])
    return claims
