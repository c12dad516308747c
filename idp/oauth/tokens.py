"""Token issuance: self-contained JWT access tokens (RFC 9068), opaque refresh tokens.

Rules:
- access tokens are ``typ: at+jwt`` JWTs carrying iss, sub, aud, exp, iat,
  jti, client_id, scope, and sid / auth_time / org_id / act / grant_id when
  there are any; issuing one writes nothing;
- a token for an API (``oauth.resources``) has the API's identifier as ``aud``,
  is signed with the API's algorithm and lives no longer than the API says;
  one for no API has the client as ``aud`` and the client's algorithm;
- the PrivX profile (a client's ``token_profile``) adds ``domain`` (the client),
  ``permissions`` (the user's roles' permissions for the API, comma-separated,
  "" when none), ``sessionid`` and ``userid``; an RFC 9068 token carries
  ``roles`` and ``permissions`` only when the ``roles`` scope asks for them;
- a user's tokens hang on a ``Grant`` (``grant_id``), created with the first of
  them and carrying the refresh token's digest; a service's (client_credentials)
  hang on nothing but their client;
- a request may shorten a lifetime, never lengthen it (Webex
  ``accessTokenValiditySeconds`` / ``refreshTokenValiditySeconds``), and an
  exchanged token never outlives its subject (``not_after``);
- a refresh token's successor is derived from it with the server's key, so
  the same presentation always rotates to the same successor (the refresh
  grace window returns it again instead of a third token).
"""

from __future__ import annotations

import hashlib
import hmac
import uuid
from dataclasses import dataclass
from typing import Any

from flask import current_app

from ..clock import now
from ..extensions import db
from ..ids import new_ordered_id
from ..models import Api, Client, Grant, User
from ..models.client import PRIVX_PROFILE
from ..models.types import table
from ..security import opaque
from ..services import apis
from . import keys

OFFLINE = "offline_access"
ROLES = "roles"


@dataclass
class Context:
    """What a grant knows about the issuance beyond client, user and scope.

    ``grant_id`` names the grant the tokens hang on; with ``new_grant`` the
    issuance creates it (a code redemption, a password sign-in, an exchange).
    """

    grant_id: str | None = None
    new_grant: bool = False
    root_id: str | None = None  # the subject's root, for an exchange
    parent_id: str | None = None
    sid: str | None = None
    org_id: str | None = None
    auth_time: int | None = None
    granted_scope: str | None = None  # what a refresh token keeps (RFC 6749 §6)
    actor: dict[str, Any] | None = None
    origin_grant: str | None = None  # the grant type that began the grant
    refresh_token: str | None = None  # a rotation's successor, decided when it was claimed
    issued_at: int | None = None  # a rotation's moment (the grace window re-issues it)
    not_after: int | None = None  # the subject's expiry, for an exchange
    resources: list[str] | None = None  # what the authorization granted (RFC 8707)
    claims_request: dict[str, Any] | None = None  # OIDC Core §5.5, kept with the grant


def shorter(requested: str | None, configured: int) -> int:
    """The requested value if it is a plain whole number below ``configured``.

    Only ASCII digits count: Python's ``int`` would also take " 60", "6_0" or "٦٠".
    """
    if requested is None or not requested.isascii() or not requested.isdigit():
        return configured
    value = int(requested)
    return value if 0 < value < configured else configured


def successor(refresh_token: str) -> str:
    """The refresh token a rotation of ``refresh_token`` issues (keyed: only we can)."""
    key = hashlib.sha256(b"idp refresh successor|"
                         + current_app.config["SECRET_KEY"].encode()).digest()
    mac = hmac.new(key, refresh_token.encode(), hashlib.sha256).digest()
    return opaque.urlsafe(mac)


def rotation_jti(refresh_digest: str) -> str:
    """The access token issued with a rotated refresh token: one jti per rotation."""
    return str(uuid.UUID(bytes=hashlib.sha256(refresh_digest.encode()).digest()[:16]))


def issue(
    *,
    client: Client,
    grant_type: str,
    scope: str,
    user: User | None,
    context: Context,
    access_ttl: int,
    refresh_ttl: int | None,
    audience: Api | None = None,
) -> tuple[dict[str, Any], dict[str, Any] | None]:
    """Build the token response, and the values of the ``Grant`` row it creates
    (None when it creates none)."""
    issued_at = context.issued_at or now()
    if audience is not None:
        access_ttl = min(access_ttl, audience.access_token_ttl)
    expires_at = issued_at + access_ttl
    if context.not_after is not None:
        expires_at = min(expires_at, context.not_after)
    refresh_token = None
    if refresh_ttl:
        refresh_token = context.refresh_token or opaque.generate_opaque_token()
    if context.refresh_token:
        jti = rotation_jti(opaque.digest(context.refresh_token))
    else:
        jti = new_ordered_id()  # time-ordered: a revocation list's index grows at one end
    claims: dict[str, Any] = {
        "iss": current_app.config["IDP_ISSUER"],
        "sub": user.id if user else client.client_id,
        "aud": audience.identifier if audience else client.client_id,
        "exp": expires_at,
        "iat": issued_at,
        "jti": jti,
        "client_id": client.client_id,
        "scope": scope,
    }
    if context.sid:
        claims["sid"] = context.sid
    if context.auth_time:
        claims["auth_time"] = context.auth_time
    if context.org_id:
        claims["org_id"] = context.org_id
    if context.actor:
        claims["act"] = context.actor
    grant_id = context.grant_id
    if user is not None and grant_id is None:
        grant_id = new_ordered_id()
        context.new_grant = True
    if grant_id:
        claims["grant_id"] = grant_id
    claims.update(_profile_claims(client, user, scope, audience, context.sid))
    alg = audience.access_token_alg if audience else client.access_token_signed_alg
    response: dict[str, Any] = {
        "access_token": keys.sign(claims, alg, typ="at+jwt"),
        "token_type": "Bearer",
        "expires_in": expires_at - issued_at,
        "scope": scope,
    }
    if refresh_token:
        response["refresh_token"] = refresh_token
    if not context.new_grant or grant_id is None or user is None:
        return response, None
    granted = context.granted_scope or scope
    refresh_expires_at = issued_at + refresh_ttl if refresh_ttl else None
    row = dict(
        id=grant_id,
        root_id=context.root_id or grant_id,
        parent_id=context.parent_id,
        client_id=client.client_id,
        user_id=user.id,
        grant_type=context.origin_grant or grant_type,
        scope=granted,
        resources=context.resources or [],
        claims_request=context.claims_request,
        org_id=context.org_id,
        sid=context.sid,
        offline=OFFLINE in granted.split(),
        auth_time=context.auth_time,
        actor=context.actor,
        created_at=issued_at,
        expires_at=max(expires_at, refresh_expires_at or 0),
        revoked_at=None,
        refresh_digest=opaque.digest(refresh_token) if refresh_token else None,
        refresh_expires_at=refresh_expires_at,
        rotated_at=issued_at if refresh_token else None,
    )
    return response, row


def _profile_claims(client: Client, user: User | None, scope: str, audience: Api | None,
                    sid: str | None) -> dict[str, Any]:
    """What the client's token profile adds: PrivX's claims, or roles by scope."""
    if client.token_profile == PRIVX_PROFILE:
        extra: dict[str, Any] = {"domain": client.client_id, "permissions": ""}
        if user is not None:
            extra["permissions"] = ",".join(apis.permissions_of(user.id, audience))
            extra["userid"] = user.id
        if sid:
            extra["sessionid"] = sid
        return extra
    if user is not None and ROLES in scope.split():
        return {"roles": [r.name for r in apis.roles_of(user.id, audience)],
                "permissions": apis.permissions_of(user.id, audience)}
    return {}


INSERT = table(Grant).insert()


def save(row: dict[str, Any] | None) -> None:
    """Insert the grant an issuance created, in the current transaction (a plain
    table INSERT: the ORM's unit of work would cost more than the rest)."""
    if row is not None:
        db.session.execute(INSERT, row)
