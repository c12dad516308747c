"""APIs (resource servers) and roles: registration, and what a token for one carries."""

from __future__ import annotations

import re
from dataclasses import dataclass
from urllib.parse import urlsplit

from sqlalchemy import Select, or_, select

from ..extensions import db
from ..i18n import N_, Words
from ..models import Api, Client, GroupMember, Role, RoleAssignment, User
from ..security import opaque
from . import FieldError, ServiceError, Taken
from .audit import Origin, changed

ACCESS_TOKEN_ALGS = ("RS256", "ES256", "Ed25519", "EdDSA")
SCOPE_RE = re.compile(r"^[\x21\x23-\x5B\x5D-\x7E]{1,128}$")  # RFC 6749 §3.3 NQCHAR
PERMISSION_RE = re.compile(r"^[A-Za-z0-9._:/-]{1,128}$")  # no commas: PrivX joins them with ","
MAX_TTL = 24 * 3600


@dataclass
class NewApi:
    api: Api
    client_secret: str  # its introspection secret: shown once, never stored


def identifier_problem(identifier: str) -> str | None:
    """Why ``identifier`` cannot name an API (RFC 8707 §2: an absolute URI, no fragment,
    and no query), or None."""
    if len(identifier) > 2000 or any(c.isspace() for c in identifier):
        return Words(N_("must be a single URI of at most 2000 characters"))
    try:
        parts = urlsplit(identifier)
    except ValueError:
        return Words(N_("is not a valid URI"))
    if not parts.scheme or not re.fullmatch(r"[A-Za-z][A-Za-z0-9+.-]*", parts.scheme):
        return Words(N_("must be an absolute URI (https://api.example.com/, urn:example:api)"))
    if "#" in identifier:
        return Words(N_("must not contain a fragment"))
    if parts.query:
        return Words(N_("should not contain a query"))
    if parts.scheme in ("http", "https") and not parts.hostname:
        return Words(N_("has no host"))
    return None


def create_api(identifier: str, name: str, scope: str, *,
               descriptions: dict[str, str] | None = None,
               access_token_alg: str = "RS256",  # noqa: S107 - an algorithm name
               access_token_ttl: int = 300, origin: Origin | None = None) -> NewApi:
    from ..oauth.claims import SCOPES_SUPPORTED

    if problem := identifier_problem(identifier):
        raise FieldError("identifier", N_("API identifier %(identifier)r %(problem)s"),
                         identifier=identifier, problem=problem)
    if find_api(identifier):
        raise Taken("identifier", N_("an API %(identifier)r exists"), identifier=identifier)
    if not name.strip() or len(name) > 200:
        raise FieldError("name", N_("the API needs a name of at most 200 characters"))
    if access_token_alg not in ACCESS_TOKEN_ALGS:
        raise FieldError("access_token_alg", N_("access token algorithm must be one of "
                                                 "%(algs)s"), algs=", ".join(ACCESS_TOKEN_ALGS))
    if not 1 <= access_token_ttl <= MAX_TTL:
        raise FieldError("access_token_ttl",
                         N_("access token lifetime must be 1 to %(max)d seconds"), max=MAX_TTL)
    names = list(dict.fromkeys(scope.split()))
    taken = {s for api in all_apis() for s in api.scope_names}
    for scope_name in names:
        if not SCOPE_RE.match(scope_name):
            raise FieldError("scope", N_("invalid scope %(scope)r"), scope=scope_name)
        if scope_name in SCOPES_SUPPORTED or scope_name.startswith(("grpn://", "grpid://")):
            raise FieldError("scope", N_("scope %(scope)r is one of the provider's own"),
                             scope=scope_name)
        if scope_name in taken:
            raise Taken("scope", N_("scope %(scope)r belongs to another API"), scope=scope_name)
    descriptions = descriptions or {}
    if unknown := set(descriptions) - set(names):
        raise ServiceError(N_("descriptions for scopes the API does not have: %(scopes)s"),
                           scopes=str(sorted(unknown)))
    secret = opaque.generate_secret()
    api = Api(identifier=identifier, name=name.strip(),
              scopes=[{"name": n, "description": descriptions.get(n) or None} for n in names],
              access_token_alg=access_token_alg, access_token_ttl=access_token_ttl,
              client_id="api-" + opaque.generate_secret()[:20],
              secret_digest=opaque.digest(secret))
    db.session.add(api)
    db.session.flush()
    changed("api.created", origin, identifier=identifier)
    return NewApi(api, secret)


def find_api(identifier: str) -> Api | None:
    return db.session.scalar(select(Api).where(Api.identifier == identifier))


def require_api(identifier: str) -> Api:
    api = find_api(identifier)
    if api is None:
        raise ServiceError(N_("no API %(identifier)r"), identifier=identifier)
    return api


def all_apis() -> list[Api]:
    return list(db.session.scalars(select(Api).order_by(Api.identifier)))


def api_of_scope(scope: str) -> Api | None:
    return next((api for api in all_apis() if scope in api.scope_names), None)


def by_introspection_id(client_id: str) -> Api | None:
    return db.session.scalar(select(Api).where(Api.client_id == client_id))


def may_use(client: Client, api: Api) -> bool:
    """A client may use any API unless it is limited to some."""
    return not client.apis or api.identifier in client.apis


# -- roles ------------------------------------------------------------------------


def create_role(name: str, permissions: list[str], *, api: str | None = None,
                description: str | None = None, origin: Origin | None = None) -> Role:
    if not name.strip() or len(name) > 200:
        raise ServiceError(N_("a role name is 1 to 200 characters"))
    owner = require_api(api) if api else None
    if find_role(name, api):
        if api:
            raise ServiceError(N_("role %(role)r exists for %(api)r"), role=name, api=api)
        raise ServiceError(N_("role %(role)r exists"), role=name)
    for permission in permissions:
        if not PERMISSION_RE.match(permission):
            raise ServiceError(N_("invalid permission %(permission)r: letters, digits and ._:/- "
                                  "only"), permission=permission)
    role = Role(name=name.strip(), api_id=owner.id if owner else None,
                permissions=list(dict.fromkeys(permissions)), description=description)
    db.session.add(role)
    db.session.flush()
    changed("role.created", origin, role_id=role.id, role=role.name, api=api)
    return role


def find_role(name: str, api: str | None = None) -> Role | None:
    owner = find_api(api) if api else None
    if api and owner is None:
        return None
    query = select(Role).where(Role.name == name)
    query = query.where(Role.api_id == owner.id) if owner else query.where(Role.api_id.is_(None))
    return db.session.scalar(query)


def require_role(name: str, api: str | None = None) -> Role:
    role = find_role(name, api)
    if role is None:
        if api:
            raise ServiceError(N_("no role %(role)r for %(api)r"), role=name, api=api)
        raise ServiceError(N_("no role %(role)r"), role=name)
    return role


def assign_role(role: Role, *, user: User | None = None, group_id: str | None = None,
                origin: Origin | None = None) -> None:
    if (user is None) == (group_id is None):
        raise ServiceError(N_("a role is assigned to a user or to a group"))
    user_id = user.id if user else None
    exists = db.session.scalar(select(RoleAssignment).where(
        RoleAssignment.role_id == role.id,
        RoleAssignment.user_id == user_id if user_id else RoleAssignment.user_id.is_(None),
        RoleAssignment.group_id == group_id if group_id else RoleAssignment.group_id.is_(None)))
    if exists is None:
        db.session.add(RoleAssignment(role_id=role.id, user_id=user_id, group_id=group_id))
        changed("role.assigned", origin, user_id=user_id, group_id=group_id, role=role.name)


def roles_of(user_id: str, api: Api | None) -> list[Role]:
    """The user's roles (directly or through a group) for ``api``, and the global ones."""
    return list(db.session.scalars(_roles(user_id).where(
        or_(Role.api_id.is_(None), Role.api_id == (api.id if api else None)))))


def every_role_of(user_id: str) -> list[Role]:
    """The user's roles for every API, and the global ones (what an admin sees)."""
    return list(db.session.scalars(_roles(user_id)))


def _roles(user_id: str) -> Select[Role]:
    groups = select(GroupMember.group_id).where(GroupMember.user_id == user_id)
    return (
        select(Role).join(RoleAssignment, RoleAssignment.role_id == Role.id)
        .where(or_(RoleAssignment.user_id == user_id, RoleAssignment.group_id.in_(groups)))
        .order_by(Role.name).distinct()
    )


def permissions_of(user_id: str, api: Api | None) -> list[str]:
    """Every permission the user's roles give for ``api``, each once, sorted."""
    return sorted({p for role in roles_of(user_id, api) for p in role.permissions})


def all_roles() -> list[Role]:
    return list(db.session.scalars(select(Role).order_by(Role.name)))


def role_by_id(role_id: str) -> Role | None:
    return db.session.get(Role, role_id)


def api_by_id(api_id: str) -> Api | None:
    return db.session.get(Api, api_id)
