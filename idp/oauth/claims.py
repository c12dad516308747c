"""Scopes, the claims they release, and their words on the consent page."""

from __future__ import annotations

from typing import Any

from flask_babel import gettext as _
from flask_babel import lazy_gettext as _l

from ..models import Group, User
from ..services import orgs

SCOPE_CLAIMS: dict[str, tuple[str, ...]] = {
    "profile": (
        "name",
        "given_name",
        "family_name",
        "preferred_username",
        "picture",
        "locale",
        "updated_at",
    ),
    "email": ("email", "email_verified"),
    "org": ("org_id", "org_slug", "org_role"),
    "public_metadata": ("public_metadata",),
    "private_metadata": ("private_metadata",),
}

SCOPES_SUPPORTED = (
    "openid",
    "profile",
    "email",
    "offline_access",
    "org",
    "public_metadata",
    "private_metadata",
    "group_names",
    "group_ids",
    "roles",
)

SCOPE_WORDS = {
    "openid": _l("Confirm who you are"),
    "profile": _l("See your name, username, picture and language"),
    "email": _l("See your email address"),
    "offline_access": _l("Stay signed in to the application when you are away"),
    "org": _l("See the organization you choose and your role in it"),
    "public_metadata": _l("See the public information stored about you"),
    "private_metadata": _l("See the private information stored about you"),
    "group_names": _l("See the names of your groups"),
    "group_ids": _l("See the identifiers of your groups"),
    "roles": _l("See your roles and what they allow you to do"),
    "idp:admin": _l("Manage this identity provider: its users, applications and settings"),
}

# The admin API's scope: for a client registered with it (client_credentials), or an
# administrator's own token; never anyone else's, whatever the client may ask.
ADMIN_SCOPE = "idp:admin"


def without_privileges(scope: str, user: User | None) -> str:
    """``scope`` less what this user may not be granted (``ADMIN_SCOPE`` for anyone who
    is not an administrator)."""
    if user is None or user.admin or ADMIN_SCOPE not in scope.split():
        return scope
    return " ".join(s for s in scope.split() if s != ADMIN_SCOPE)


def is_openid(scope: str) -> bool:
    return "openid" in scope.split()


def describe_scope(scope: str) -> str:
    """A scope in plain words, for the consent page: an API's own words for its scopes."""
    if scope.startswith("grpn://"):
        return _("See whether you belong to the group “%(group)s”", group=scope[7:])
    if scope.startswith("grpid://"):
        return _("See whether you belong to the group with identifier %(group)s",
                 group=scope[8:])
    if scope in SCOPE_WORDS:
        return str(SCOPE_WORDS[scope])
    from .resources import catalog

    if (api := catalog().by_scope.get(scope)) is not None:
        return api.describe(scope) or _("%(api)s: use the permission “%(scope)s”",
                                        api=api.name, scope=scope)
    return _("Use the permission “%(scope)s”", scope=scope)


GROUP_SCOPES = ("group_names", "group_ids")


def wants_groups(scopes: set[str]) -> bool:
    return any(s in GROUP_SCOPES or s.startswith(("grpn://", "grpid://")) for s in scopes)


def group_claims(groups: list[Group], scopes: set[str], limit: int | None = None
                 ) -> tuple[dict[str, list[str]], bool]:
    """Webex group scopes → ``groups`` (names) and ``group_ids``, at most ``limit`` in all.

    ``group_names`` / ``group_ids`` release every group; ``grpn://NAME`` and
    ``grpid://ID`` only the one named. Returns the claims and whether the cap cut
    anything off.
    """
    names = [g.name for g in groups
             if "group_names" in scopes or f"grpn://{g.name}" in scopes]
    ids = [g.id for g in groups if "group_ids" in scopes or f"grpid://{g.id}" in scopes]
    truncated = False
    if limit is not None and len(names) + len(ids) > limit:
        truncated = True
        names = names[:limit]
        ids = ids[: limit - len(names)]
    claims: dict[str, list[str]] = {}
    if "group_names" in scopes or any(s.startswith("grpn://") for s in scopes):
        claims["groups"] = names
    if "group_ids" in scopes or any(s.startswith("grpid://") for s in scopes):
        claims["group_ids"] = ids
    return claims, truncated


def profile_claims(user: User, scopes: set[str]) -> dict[str, Any]:
    """What the ``profile``, ``email`` and Clerk's metadata scopes release about
    ``user`` (OIDC Core §5.4, Clerk's UserInfo), ``None`` values left out."""
    claims: dict[str, Any] = {}
    if "profile" in scopes:
        claims.update(
            name=user.name,
            given_name=user.given_name,
            family_name=user.family_name,
            preferred_username=user.username,
            username=user.username,
            picture=user.picture,
            locale=user.locale,
            updated_at=user.updated_at,
            unsafe_metadata=user.unsafe_metadata or {},
        )
    if "email" in scopes:
        claims.update(email=user.email, email_verified=bool(user.email_verified))
    if "public_metadata" in scopes:
        claims["public_metadata"] = user.public_metadata or {}
    if "private_metadata" in scopes:
        claims["private_metadata"] = user.private_metadata or {}
    return {k: v for k, v in claims.items() if v is not None}


def org_claims(user: User, scopes: set[str], org_id: str | None) -> dict[str, Any]:
    """What the ``org`` scope releases: the organization chosen for the token, and the
    user's role in it (looked up only when the scope asks)."""
    if "org" in scopes and org_id and (membership := orgs.membership(user.id, org_id)):
        return {"org_id": org_id, "org_slug": membership.org.slug, "org_role": membership.role}
    return {}


# -- the claims request parameter (OIDC Core §5.5) --------------------------------------

# What a claims request may ask for by name, whatever the scope, and where.
REQUESTABLE = frozenset({*(c for names in SCOPE_CLAIMS.values() for c in names),
                         "username", "unsafe_metadata", "acr", "auth_time"})
CLAIMS_MEMBERS = ("userinfo", "id_token")


class ClaimsRequestError(ValueError):
    """The ``claims`` parameter is not a claims request."""


def parse_claims_request(raw: str | None) -> dict[str, dict[str, Any]]:
    """A ``claims`` parameter as ``{"userinfo": {...}, "id_token": {...}}``, keeping the
    claims this provider can release (others are ignored, as §5.5 allows)."""
    if not raw:
        return {}
    import json

    try:
        request = json.loads(raw)
    except ValueError:
        raise ClaimsRequestError("'claims' is not JSON.") from None
    if not isinstance(request, dict):
        raise ClaimsRequestError("'claims' must be a JSON object.")
    parsed: dict[str, dict[str, Any]] = {}
    for member in CLAIMS_MEMBERS:
        asked = request.get(member)
        if asked is None:
            continue
        if not isinstance(asked, dict):
            raise ClaimsRequestError(f"'claims.{member}' must be an object.")
        kept = {}
        for name, spec in asked.items():
            if spec is not None and not isinstance(spec, dict):
                raise ClaimsRequestError(f"'claims.{member}.{name}' must be null or an object.")
            if name in REQUESTABLE:
                kept[name] = spec or {}
        if kept:
            parsed[member] = kept
    return parsed


def requested_claims(user: User, claims_request: dict[str, dict[str, Any]] | None,
                     member: str) -> dict[str, Any]:
    """The user claims a claims request names for ``member`` (scope or not)."""
    asked = (claims_request or {}).get(member) or {}
    if not asked:
        return {}
    everything = profile_claims(user, {"profile", "email", "public_metadata",
                                       "private_metadata"})
    return {name: everything[name] for name in asked if name in everything}
