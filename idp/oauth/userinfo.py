"""UserInfo (OIDC Core §5.3) in the Clerk shape.

Rules:
- needs an access token with ``openid``;
- ``sub`` and Clerk's ``object``, ``instance_id`` and ``user_id`` always; the
  rest by scope (OIDC Core §5.4, ``claims.profile_claims``): names, ``username``,
  picture, locale and ``unsafe_metadata`` with ``profile``; ``email`` and
  ``email_verified`` with ``email``; ``public_metadata`` and ``private_metadata``
  with their own scopes; the organization with ``org``; every group with the
  group scopes (the ID token may carry only part of them);
- a disabled or deleted user is ``invalid_token``.
"""

from __future__ import annotations

import hashlib
from typing import Any

from authlib.oauth2.rfc6750 import InvalidTokenError
from flask import current_app

from ..services import orgs
from ..services.grants import ActiveToken
from .claims import group_claims, org_claims, profile_claims, requested_claims, wants_groups


def instance_id() -> str:
    """A stable identifier of this installation: derived from the issuer."""
    digest = hashlib.sha256(current_app.config["IDP_ISSUER"].encode()).hexdigest()
    return f"ins_{digest[:24]}"


def userinfo(token: ActiveToken) -> dict[str, Any]:
    user = token.user
    if user is None or user.disabled:
        raise InvalidTokenError("The token's user no longer exists or is disabled.")
    scopes = set(token.scope.split())
    claims: dict[str, Any] = {"sub": user.id, "object": "oauth_user_info",
                              "instance_id": instance_id(), "user_id": user.id}
    claims.update(profile_claims(user, scopes))
    claims.update(org_claims(user, scopes, token.org_id))
    if token.grant is not None:  # what the claims parameter asked for (OIDC Core §5.5)
        claims.update(requested_claims(user, token.grant.claims_request, "userinfo"))
    if wants_groups(scopes):  # the whole list: the ID token may carry only part
        claims.update(group_claims(orgs.user_groups(user.id, token.org_id), scopes)[0])
    return claims
