"""The admin API's representations of each object (never a secret or a digest)."""

from __future__ import annotations

from typing import Any

from ..models import (
    Api,
    Client,
    Group,
    LoginSession,
    Membership,
    Organization,
    Role,
    SigningKey,
    Upstream,
    User,
)
from ..services import apis, clients, consent, orgs, upstreams


def user(u: User) -> dict[str, Any]:
    return {"id": u.id, "username": u.username, "email": u.email,
            "email_verified": u.email_verified, "given_name": u.given_name,
            "family_name": u.family_name, "name": u.name, "picture": u.picture,
            "locale": u.locale, "public_metadata": u.public_metadata,
            "private_metadata": u.private_metadata, "unsafe_metadata": u.unsafe_metadata,
            "disabled": u.disabled, "admin": u.admin, "has_password": bool(u.password_hash),
            "created_at": u.created_at, "updated_at": u.updated_at, "version": u.version}


def user_detail(u: User) -> dict[str, Any]:
    """A user with what hangs on them: memberships, roles, consents, linked accounts."""
    return {
        **user(u),
        "memberships": [{"org": m.org.slug, "role": m.role} for m in orgs.memberships(u.id)],
        "groups": [{"id": g.id, "name": g.name, "org_id": g.org_id}
                   for g in orgs.user_groups(u.id)],
        "roles": [r.name for r in apis.every_role_of(u.id)],
        "consents": [{"client_id": c.client_id, "scope": c.scope}
                     for c, _client in consent.of_user(u)],
        "linked_identities": [{"upstream": up.id, "subject": i.subject, "email": i.email}
                              for i, up in upstreams.linked_identities(u)],
    }


def session(s: LoginSession) -> dict[str, Any]:
    return {"sid": s.sid, "auth_time": s.auth_time, "acr": s.acr, "amr": s.amr,
            "user_agent": s.user_agent, "ip": s.ip, "created_at": s.created_at,
            "last_seen_at": s.last_seen_at, "expires_at": s.expires_at}


def org(o: Organization) -> dict[str, Any]:
    return {"id": o.id, "slug": o.slug, "name": o.name, "require_mfa": o.require_mfa,
            "created_at": o.created_at, "version": o.version}


def member(m: Membership, u: User) -> dict[str, Any]:
    return {"user_id": u.id, "username": u.username, "role": m.role}


def group(g: Group, o: Organization) -> dict[str, Any]:
    return {"id": g.id, "org": o.slug, "name": g.name,
            "members": [u.id for u in orgs.group_members(g)]}


def org_detail(o: Organization) -> dict[str, Any]:
    return {**org(o), "members": [member(m, u) for m, u in orgs.members(o)],
            "groups": [group(g, o) for g in orgs.groups_of(o)],
            "clients": [c.client_id for c in orgs.bound_clients(o)]}


def client(c: Client) -> dict[str, Any]:
    return {"client_id": c.client_id, **clients.settings_of(c), "public": c.is_public,
            "disabled": c.disabled, "created_at": c.created_at, "updated_at": c.updated_at,
            "version": c.version}


def api(a: Api) -> dict[str, Any]:
    return {"id": a.id, "identifier": a.identifier, "name": a.name, "scopes": a.scopes,
            "access_token_alg": a.access_token_alg, "access_token_ttl": a.access_token_ttl,
            "client_id": a.client_id, "created_at": a.created_at}


def role(r: Role) -> dict[str, Any]:
    owner = apis.api_by_id(r.api_id) if r.api_id else None
    return {"id": r.id, "name": r.name, "api": owner.identifier if owner else None,
            "permissions": r.permissions, "description": r.description}


def upstream(u: Upstream) -> dict[str, Any]:
    org_ = orgs.find_org(u.org_id) if u.org_id else None
    return {"id": u.id, "name": u.name, "issuer": u.issuer, "authorize_url": u.authorize_url,
            "token_url": u.token_url, "userinfo_url": u.userinfo_url,
            "client_id": u.client_id, "scope": u.scope, "claims": u.claims,
            "link_by_verified_email": u.link_by_verified_email,
            "create_users": u.create_users, "org": org_.slug if org_ else None,
            "groups_claim": u.groups_claim}


def key(row: tuple[SigningKey, str]) -> dict[str, Any]:
    k, state = row
    return {"kid": k.kid, "alg": k.alg, "state": state, "created_at": k.created_at,
            "retired_at": k.retired_at}
