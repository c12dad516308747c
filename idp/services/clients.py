"""Client registration."""

from __future__ import annotations

import re
from dataclasses import dataclass

from ..extensions import db
from ..models import Client
from ..models.client import (
    ACCESS_TOKEN_ALGS,
    AUTH_METHODS,
    GRANT_TYPES,
    ID_TOKEN_ALGS,
    TOKEN_PROFILES,
)
from ..security import opaque
from ..security.redirects import registration_problem
from . import ServiceError
from .apis import require_api
from .orgs import require_org

CLIENT_ID_RE = re.compile(r"^[A-Za-z0-9._~-]{1,128}$")
DEFAULT_SCOPE = "openid profile email offline_access org"
MAX_TTL = 365 * 24 * 3600


@dataclass
class NewClient:
    client: Client
    client_secret: str | None  # shown once, never stored


def create_client(
    name: str,
    *,
    client_id: str | None = None,
    client_secret: str | None = None,
    redirect_uris: list[str] | tuple[str, ...] = (),
    post_logout_redirect_uris: list[str] | tuple[str, ...] = (),
    grant_types: list[str] | tuple[str, ...] = (),
    scope: str | None = None,
    auth_method: str = "client_secret_basic",
    skip_consent: bool = False,
    access_token_ttl: int = 300,
    refresh_token_ttl: int = 30 * 24 * 3600,
    max_groups_in_id_token: int = 100,
    org: str | None = None,
    require_pkce: bool = False,
    id_token_alg: str = "RS256",  # noqa: S107 - an algorithm name
    access_token_alg: str = "Ed25519",  # noqa: S107 - an algorithm name
    apis: list[str] | tuple[str, ...] = (),
    default_api: str | None = None,
    token_profile: str = "rfc9068",  # noqa: S107 - a profile name
    id_token_claims: bool = False,
    require_mfa: bool = False,
) -> NewClient:
    if not name.strip():
        raise ServiceError("the client needs a name")
    client_id = client_id or opaque.generate_secret()[:22]
    if not CLIENT_ID_RE.match(client_id):
        raise ServiceError(f"invalid client id {client_id!r}")
    if db.session.get(Client, client_id):
        raise ServiceError(f"client {client_id!r} exists")
    if auth_method not in AUTH_METHODS:
        raise ServiceError(f"auth method must be one of {', '.join(AUTH_METHODS)}")
    grant_types = list(dict.fromkeys(grant_types or ["authorization_code", "refresh_token"]))
    for grant in grant_types:
        if grant not in GRANT_TYPES:
            raise ServiceError(f"unknown grant type {grant!r}; one of {', '.join(GRANT_TYPES)}")
    public = auth_method == "none"
    if public and client_secret:
        raise ServiceError("a public client (auth method none) has no secret")
    if public and not {"authorization_code", "refresh_token"}.issuperset(grant_types):
        raise ServiceError("a public client may only use authorization_code and refresh_token")
    if client_secret is not None and len(client_secret) < opaque.MIN_SUPPLIED_SECRET_LENGTH:
        raise ServiceError(
            f"a client secret needs at least {opaque.MIN_SUPPLIED_SECRET_LENGTH} characters"
        )
    for uri in [*redirect_uris, *post_logout_redirect_uris]:
        if problem := registration_problem(uri):
            raise ServiceError(f"redirect URI {uri!r} {problem}")
    if "authorization_code" in grant_types and not redirect_uris:
        raise ServiceError("an authorization_code client needs at least one --redirect-uri")
    for label, ttl in (("access", access_token_ttl), ("refresh", refresh_token_ttl)):
        if not 1 <= ttl <= MAX_TTL:
            raise ServiceError(f"{label} token lifetime must be 1 to {MAX_TTL} seconds")
    if not 0 <= max_groups_in_id_token <= 10_000:
        raise ServiceError("max groups in the ID token must be 0 to 10000")
    if id_token_alg not in ID_TOKEN_ALGS:
        raise ServiceError(f"ID token algorithm must be one of {', '.join(ID_TOKEN_ALGS)}")
    if access_token_alg not in ACCESS_TOKEN_ALGS:
        raise ServiceError(f"access token algorithm must be one of {', '.join(ACCESS_TOKEN_ALGS)}")
    org_id = require_org(org).id if org else None
    for identifier in [*apis, *([default_api] if default_api else [])]:
        require_api(identifier)
    if default_api and apis and default_api not in apis:
        raise ServiceError("the default API must be one of the APIs the client is limited to")
    if token_profile not in TOKEN_PROFILES:
        raise ServiceError(f"token profile must be one of {', '.join(TOKEN_PROFILES)}")

    secret = None if public else (client_secret or opaque.generate_secret())
    client = Client(
        client_id=client_id,
        name=name.strip(),
        secret_digest=opaque.digest(secret) if secret else None,
        redirect_uris=list(redirect_uris),
        post_logout_redirect_uris=list(post_logout_redirect_uris),
        grant_types=grant_types,
        scope=" ".join(dict.fromkeys((scope if scope is not None else DEFAULT_SCOPE).split())),
        token_endpoint_auth_method=auth_method,
        skip_consent=skip_consent,
        require_pkce=require_pkce or public,
        access_token_ttl=access_token_ttl,
        refresh_token_ttl=refresh_token_ttl,
        max_groups_in_id_token=max_groups_in_id_token,
        id_token_signed_response_alg=id_token_alg,
        access_token_signed_alg=access_token_alg,
        org_id=org_id,
        apis=list(dict.fromkeys(apis)),
        default_api=default_api,
        token_profile=token_profile,
        id_token_claims=id_token_claims,
        require_mfa=require_mfa,
    )
    db.session.add(client)
    return NewClient(client, secret)
