"""Client registration and administration.

Rules:
- a client's settings are checked the same way when it is created and when it is
  changed (``_checked``), and named as the command line names them
  (``SETTINGS``); a broken rule is a ``FieldError`` naming the setting;
- a secret is shown once, stored as a digest; rotating it makes the old one stop
  working at once;
- a client stays public (``none``) or confidential for life: the secret it has,
  or has not, goes with that;
- disabling a client stops its tokens at once (``services.grants``) and its
  sign-ins; deleting it takes its grants, codes and consents with it;
- an edit carries the version it was made against (``versions``); this process
  sees a change at once, others within ``IDP_CLIENT_CACHE_SECONDS``.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Any

from sqlalchemy import select

from ..extensions import db
from ..i18n import N_
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
from . import FieldError, NotFound, ServiceError, Taken
from .apis import require_api
from .audit import Origin, changed
from .orgs import find_org
from .versions import claim_version

CLIENT_ID_RE = re.compile(r"^[A-Za-z0-9._~-]{1,128}$")
DEFAULT_SCOPE = "openid profile email offline_access org"
MAX_TTL = 365 * 24 * 3600
PUBLIC = "none"
SETTINGS = ("name", "redirect_uris", "post_logout_redirect_uris", "grant_types", "scope",
            "auth_method", "skip_consent", "access_token_ttl", "refresh_token_ttl",
            "max_groups_in_id_token", "org", "require_pkce", "require_mfa", "id_token_alg",
            "access_token_alg", "apis", "default_api", "token_profile", "id_token_claims",
            "logo_uri", "client_uri", "policy_uri", "tos_uri")
DEFAULTS: dict[str, Any] = {
    "redirect_uris": [], "post_logout_redirect_uris": [], "grant_types": [], "scope": None,
    "auth_method": "client_secret_basic", "skip_consent": False, "access_token_ttl": 300,
    "refresh_token_ttl": 30 * 24 * 3600, "max_groups_in_id_token": 100, "org": None,
    "require_pkce": False, "require_mfa": False, "id_token_alg": "RS256",
    "access_token_alg": "Ed25519", "apis": [], "default_api": None,
    "token_profile": "rfc9068", "id_token_claims": False, "logo_uri": None,
    "client_uri": None, "policy_uri": None, "tos_uri": None,
}
# Setting -> column, where they differ.
COLUMNS = {"auth_method": "token_endpoint_auth_method", "org": "org_id",
           "id_token_alg": "id_token_signed_response_alg",
           "access_token_alg": "access_token_signed_alg"}
BOOLEANS = ("skip_consent", "require_pkce", "require_mfa", "id_token_claims")
INTEGERS = ("access_token_ttl", "refresh_token_ttl", "max_groups_in_id_token")
LISTS = ("redirect_uris", "post_logout_redirect_uris", "grant_types", "apis")


@dataclass
class NewClient:
    client: Client
    client_secret: str | None  # shown once, never stored


def create_client(name: str, *, client_id: str | None = None, client_secret: str | None = None,
                  origin: Origin | None = None, **settings: Any) -> NewClient:
    """Register a client (settings: ``SETTINGS``; the rest take ``DEFAULTS``)."""
    unknown = set(settings) - set(SETTINGS)
    if unknown:
        raise ServiceError(N_("unknown client setting %(name)r"), name=sorted(unknown)[0])
    client_id = client_id or opaque.generate_secret()[:22]
    if not CLIENT_ID_RE.match(client_id):
        raise FieldError("client_id", N_("invalid client id %(client_id)r"), client_id=client_id)
    if db.session.get(Client, client_id):
        raise Taken("client_id", N_("client %(client_id)r exists"), client_id=client_id)
    values = _checked({**DEFAULTS, **settings, "name": name})
    public = values["token_endpoint_auth_method"] == PUBLIC
    if public and client_secret:
        raise FieldError("client_secret", N_("a public client (auth method none) has no secret"))
    if client_secret is not None and len(client_secret) < opaque.MIN_SUPPLIED_SECRET_LENGTH:
        raise FieldError("client_secret", N_("a client secret needs at least %(count)d characters"),
                         count=opaque.MIN_SUPPLIED_SECRET_LENGTH)
    secret = None if public else (client_secret or opaque.generate_secret())
    client = Client(client_id=client_id, secret_digest=opaque.digest(secret) if secret else None,
                    **values)
    db.session.add(client)
    db.session.flush()
    changed("client.created", origin, client_id=client_id)
    return NewClient(client, secret)


def settings_of(client: Client) -> dict[str, Any]:
    """The client's settings, named as ``create_client`` takes them."""
    values = {name: getattr(client, COLUMNS.get(name, name)) for name in SETTINGS}
    org = find_org(client.org_id) if client.org_id else None
    values["org"] = org.slug if org else None
    return values


def update_client(client: Client, changes: dict[str, Any], *, version: int | None = None,
                  origin: Origin | None = None) -> Client:
    """Change some of a client's settings; the rest stay."""
    unknown = set(changes) - set(SETTINGS)
    if unknown:
        raise FieldError(sorted(unknown)[0], N_("%(name)r is not a client setting"),
                         name=sorted(unknown)[0])
    current = settings_of(client)
    values = _checked({**current, **changes})
    if (values["token_endpoint_auth_method"] == PUBLIC) != client.is_public:
        raise FieldError("auth_method", N_("a client cannot change between public (none) and "
                                            "confidential; register a new one"))
    claim_version(Client, client.client_id, version)
    for column, value in values.items():
        setattr(client, column, value)
    _forget(client)
    changed("client.updated", origin, client_id=client.client_id, fields=sorted(changes))
    return client


def _checked(settings: dict[str, Any]) -> dict[str, Any]:
    """Every setting checked and turned into column values (rules of the module)."""
    name = settings["name"]
    if not isinstance(name, str) or not name.strip():
        raise FieldError("name", N_("the client needs a name"))
    if len(name) > 200:
        raise FieldError("name", N_("at most 200 characters"))
    for flag in BOOLEANS:
        if not isinstance(settings[flag], bool):
            raise FieldError(flag, N_("must be true or false"))
    for number in INTEGERS:
        if isinstance(settings[number], bool) or not isinstance(settings[number], int):
            raise FieldError(number, N_("must be a whole number"))
    for listed in LISTS:
        if not isinstance(settings[listed], (list, tuple)) or not all(
                isinstance(item, str) for item in settings[listed]):
            raise FieldError(listed, N_("must be a list of strings"))
    auth_method = settings["auth_method"]
    if auth_method not in AUTH_METHODS:
        raise FieldError("auth_method", N_("must be one of %(values)s"),
                         values=", ".join(AUTH_METHODS))
    grant_types = list(dict.fromkeys(settings["grant_types"]
                                     or ["authorization_code", "refresh_token"]))
    for grant in grant_types:
        if grant not in GRANT_TYPES:
            raise FieldError("grant_types", N_("unknown grant type %(grant)r; one of %(values)s"),
                             grant=grant, values=", ".join(GRANT_TYPES))
    public = auth_method == PUBLIC
    if public and not {"authorization_code", "refresh_token"}.issuperset(grant_types):
        raise FieldError("grant_types", N_("a public client may only use authorization_code "
                                            "and refresh_token"))
    for field in ("redirect_uris", "post_logout_redirect_uris"):
        for uri in settings[field]:
            if problem := registration_problem(uri):
                raise FieldError(field, N_("redirect URI %(uri)r %(problem)s"), uri=uri,
                                 problem=problem)
    if "authorization_code" in grant_types and not settings["redirect_uris"]:
        raise FieldError("redirect_uris", N_("an authorization_code client needs at least one "
                                              "redirect URI"))
    for field, lifetime in (
            ("access_token_ttl", N_("access token lifetime must be 1 to %(max)d seconds")),
            ("refresh_token_ttl", N_("refresh token lifetime must be 1 to %(max)d seconds"))):
        if not 1 <= settings[field] <= MAX_TTL:
            raise FieldError(field, lifetime, max=MAX_TTL)
    if not 0 <= settings["max_groups_in_id_token"] <= 10_000:
        raise FieldError("max_groups_in_id_token", N_("must be 0 to 10000"))
    if settings["id_token_alg"] not in ID_TOKEN_ALGS:
        raise FieldError("id_token_alg", N_("must be one of %(values)s"),
                         values=", ".join(ID_TOKEN_ALGS))
    if settings["access_token_alg"] not in ACCESS_TOKEN_ALGS:
        raise FieldError("access_token_alg", N_("must be one of %(values)s"),
                         values=", ".join(ACCESS_TOKEN_ALGS))
    if settings["token_profile"] not in TOKEN_PROFILES:
        raise FieldError("token_profile", N_("must be one of %(values)s"),
                         values=", ".join(TOKEN_PROFILES))
    org_id = None
    if settings["org"]:
        org = find_org(settings["org"])
        if org is None:
            raise FieldError("org", N_("no organization %(slug)r"), slug=settings["org"])
        org_id = org.id
    apis, default_api = list(dict.fromkeys(settings["apis"])), settings["default_api"] or None
    for identifier in [*apis, *([default_api] if default_api else [])]:
        try:
            require_api(identifier)
        except ServiceError as problem:
            raise FieldError("apis", problem.message, **problem.values) from None
    if default_api and apis and default_api not in apis:
        raise FieldError("default_api", N_("must be one of the APIs the client is limited to"))
    for field in ("logo_uri", "client_uri", "policy_uri", "tos_uri"):
        value = settings[field]
        if value and (not isinstance(value, str) or not value.startswith("https://")
                      or len(value) > 2048):
            raise FieldError(field, N_("must be an https URL"))
    scope = settings["scope"]
    if scope is not None and not isinstance(scope, str):
        raise FieldError("scope", N_("must be space-separated scopes"))
    return {
        "name": name.strip(),
        "redirect_uris": list(settings["redirect_uris"]),
        "post_logout_redirect_uris": list(settings["post_logout_redirect_uris"]),
        "grant_types": grant_types,
        "scope": " ".join(dict.fromkeys((scope if scope is not None else DEFAULT_SCOPE).split())),
        "token_endpoint_auth_method": auth_method,
        "skip_consent": settings["skip_consent"],
        "require_pkce": settings["require_pkce"] or public,
        "require_mfa": settings["require_mfa"],
        "access_token_ttl": settings["access_token_ttl"],
        "refresh_token_ttl": settings["refresh_token_ttl"],
        "max_groups_in_id_token": settings["max_groups_in_id_token"],
        "id_token_signed_response_alg": settings["id_token_alg"],
        "access_token_signed_alg": settings["access_token_alg"],
        "org_id": org_id,
        "apis": apis,
        "default_api": default_api,
        "token_profile": settings["token_profile"],
        "id_token_claims": settings["id_token_claims"],
        "logo_uri": settings["logo_uri"] or None,
        "policy_uri": settings["policy_uri"] or None,
        "tos_uri": settings["tos_uri"] or None,
        "client_uri": settings["client_uri"] or None,
    }


# -- administration ---------------------------------------------------------------------------


def all_clients() -> list[Client]:
    return list(db.session.scalars(select(Client).order_by(Client.name)))


def require_client(client_id: str) -> Client:
    client = db.session.get(Client, client_id) if len(client_id) <= 128 else None
    if client is None:
        raise NotFound(N_("no client %(client_id)r"), client_id=client_id)
    return client


def rotate_secret(client: Client, *, origin: Origin | None = None) -> str:
    """A new secret (returned once); the old one stops working at once."""
    if client.is_public:
        raise ServiceError(N_("a public client has no secret"))
    secret = opaque.generate_secret()
    client.secret_digest = opaque.digest(secret)
    _forget(client)
    changed("client.secret_rotated", origin, client_id=client.client_id)
    return secret


def set_disabled(client: Client, disabled: bool, *, origin: Origin | None = None) -> None:
    if client.disabled == disabled:
        return
    client.disabled = disabled
    _forget(client)
    changed("client.disabled" if disabled else "client.enabled", origin,
           client_id=client.client_id)


def delete_client(client: Client, *, origin: Origin | None = None) -> None:
    """Delete a client; its grants, codes, consents and interactions go with it."""
    _forget(client)
    changed("client.deleted", origin, client_id=client.client_id)
    db.session.delete(client)


def _forget(client: Client) -> None:
    from ..oauth.server import current_server

    current_server().clients.forget(client.client_id)
