"""Organizations, memberships and groups, and which organization a token is for."""

from __future__ import annotations

import re
from dataclasses import dataclass

from sqlalchemy import delete, select

from ..extensions import db
from ..i18n import N_
from ..models import Client, Group, GroupMember, Membership, Organization, User
from ..models.org import ROLES
from ..models.types import rowcount
from . import FieldError, NotFound, ServiceError, Taken
from .audit import Origin, changed
from .versions import claim_version

SLUG_RE = re.compile(r"^[a-z0-9](?:[a-z0-9-]{0,62}[a-z0-9])?$")


def _check_name(name: str) -> None:
    """A name people read on pages and in mail subjects: one line, not empty."""
    if not name.strip():
        raise FieldError("name", N_("the organization needs a name"))
    if len(name) > 200:
        raise FieldError("name", N_("at most 200 characters"))
    if any(ord(c) < 32 or ord(c) == 127 for c in name):
        raise FieldError("name", N_("the name must be one line, without control characters"))


def create_org(slug: str, name: str, *, require_mfa: bool = False,
               origin: Origin | None = None) -> Organization:
    if not SLUG_RE.match(slug):
        raise FieldError("slug", N_("invalid slug %(slug)r: lowercase letters, digits and dashes"),
                         slug=slug)
    _check_name(name)
    if find_org(slug):
        raise Taken("slug", N_("organization %(slug)r exists"), slug=slug)
    org = Organization(slug=slug, name=name.strip(), require_mfa=require_mfa)
    db.session.add(org)
    db.session.flush()
    changed("org.created", origin, org=slug)
    return org


def find_org(slug_or_id: str) -> Organization | None:
    return db.session.scalar(
        select(Organization).where(
            (Organization.slug == slug_or_id) | (Organization.id == slug_or_id)
        )
    )


def require_org(slug: str) -> Organization:
    org = find_org(slug)
    if org is None:
        raise NotFound(N_("no organization %(slug)r"), slug=slug)
    return org


def add_member(org: Organization, user: User, role: str = "member", *,
               origin: Origin | None = None) -> Membership:
    if role not in ROLES:
        raise ServiceError(N_("role must be one of %(values)s"), values=", ".join(ROLES))
    membership = db.session.get(Membership, (org.id, user.id))
    if membership is None:
        membership = Membership(org_id=org.id, user_id=user.id, role=role)
        db.session.add(membership)
    membership.role = role
    changed("org.member_set", origin, user_id=user.id, org=org.slug, role=role)
    return membership


def memberships(user_id: str) -> list[Membership]:
    """The user's memberships, with their organizations, ordered by name."""
    rows = db.session.scalars(
        select(Membership)
        .join(Organization)
        .where(Membership.user_id == user_id)
        .order_by(Organization.name)
    )
    return list(rows)


def membership(user_id: str, org_id: str) -> Membership | None:
    return db.session.get(Membership, (org_id, user_id))


def create_group(org: Organization, name: str, *, origin: Origin | None = None) -> Group:
    if not name.strip() or len(name) > 200:
        raise ServiceError(N_("a group name is 1 to 200 characters"))
    if find_group(org, name):
        raise ServiceError(N_("group %(group)r exists in %(slug)r"), group=name, slug=org.slug)
    group = Group(org_id=org.id, name=name)
    db.session.add(group)
    db.session.flush()
    changed("group.created", origin, group_id=group.id, org=org.slug, group=name)
    return group


def find_group(org: Organization, name: str) -> Group | None:
    return db.session.scalar(select(Group).where(Group.org_id == org.id, Group.name == name))


def add_group_member(group: Group, user: User, *, origin: Origin | None = None) -> None:
    if membership(user.id, group.org_id) is None:
        raise ServiceError(N_("the user must be a member of the group's organization first"))
    if db.session.get(GroupMember, (group.id, user.id)) is None:
        db.session.add(GroupMember(group_id=group.id, user_id=user.id))
        changed("group.member_added", origin, user_id=user.id, group_id=group.id)


def user_groups(user_id: str, org_id: str | None = None) -> list[Group]:
    """The user's groups, within one organization when ``org_id`` is given."""
    query = (
        select(Group)
        .join(GroupMember, GroupMember.group_id == Group.id)
        .where(GroupMember.user_id == user_id)
        .order_by(Group.name)
    )
    if org_id is not None:
        query = query.where(Group.org_id == org_id)
    return list(db.session.scalars(query))


@dataclass(frozen=True)
class OrgDecision:
    """Which organization a token is for: ``org_id`` (None: no organization), or the
    person must choose one (``must_choose``), or the request is refused (``refusal``)."""

    org_id: str | None = None
    must_choose: bool = False
    refusal: str | None = None


def resolve(client: Client, user: User | None, requested: str | None = None, *,
            remembered: str | None = None, interactive: bool = False) -> OrgDecision:
    """The organization a token is for, by the rules every grant shares.

    Rules, in order (``requested`` is ``org_id`` at the authorization endpoint,
    PrivX's ``orgId`` at the token endpoint; a slug or an id):
    - a client bound to an organization fixes it; naming another one is refused;
    - without a user (client_credentials), that is the client's organization or none;
    - the fixed or requested organization must be one of the user's (refused otherwise);
    - else the user's only organization, or none if they have none;
    - with several: the one chosen earlier in the session (``remembered``) while
      the user still belongs to it; otherwise a person must choose
      (``interactive``), and a grant without one gets no organization.
    """
    named = find_org(requested) if requested else None
    if requested and client.org_id and (named is None or named.id != client.org_id):
        return OrgDecision(refusal="This application is bound to another organization.")
    if user is None:
        if requested and (named is None or named.id != client.org_id):
            return OrgDecision(refusal="This client is not bound to that organization.")
        return OrgDecision(client.org_id)
    wanted = client.org_id or (named.id if named else None)
    if requested and wanted is None:
        return OrgDecision(refusal="There is no such organization.")
    mine = memberships(user.id)
    member_of = {m.org_id for m in mine}
    if wanted:
        if wanted not in member_of:
            return OrgDecision(refusal="You are not a member of the organization this "
                                      "application asks for.")
        return OrgDecision(wanted)
    if len(mine) <= 1:
        return OrgDecision(mine[0].org_id if mine else None)
    if remembered in member_of:
        return OrgDecision(remembered)
    return OrgDecision(must_choose=interactive)


# -- administration ---------------------------------------------------------------------------


def all_orgs() -> list[Organization]:
    return list(db.session.scalars(select(Organization).order_by(Organization.name)))


def update_org(org: Organization, *, name: str | None = None, require_mfa: bool | None = None,
               version: int | None = None, origin: Origin | None = None) -> Organization:
    if name is not None:
        _check_name(name)
    claim_version(Organization, org.id, version)
    if name is not None:
        org.name = name.strip()
    if require_mfa is not None:
        org.require_mfa = require_mfa
    changed("org.updated", origin, org=org.slug,
           fields=[f for f, v in (("name", name), ("require_mfa", require_mfa)) if v is not None])
    return org


def bound_clients(org: Organization) -> list[Client]:
    return list(db.session.scalars(select(Client).where(Client.org_id == org.id)
                                   .order_by(Client.name)))


def delete_org(org: Organization, *, origin: Origin | None = None) -> None:
    """Delete an organization with its memberships and groups; refused while clients
    are bound to it (their tokens would lose their organization)."""
    if bound := bound_clients(org):
        names = ", ".join(c.client_id for c in bound[:5])
        raise ServiceError(N_("Clients are bound to this organization (%(client_ids)s); bind "
                              "them elsewhere or delete them first."), client_ids=names)
    changed("org.deleted", origin, org=org.slug)
    db.session.delete(org)


def members(org: Organization) -> list[tuple[Membership, User]]:
    rows = db.session.execute(select(Membership, User).join(User, User.id == Membership.user_id)
                              .where(Membership.org_id == org.id).order_by(User.username))
    return [(membership, user) for membership, user in rows]


def remove_member(org: Organization, user: User, *, origin: Origin | None = None) -> None:
    """Take a user out of an organization and its groups."""
    membership = db.session.get(Membership, (org.id, user.id))
    if membership is None:
        raise NotFound(N_("%(username)s is not a member of %(slug)s"), username=user.username,
                       slug=org.slug)
    group_ids = select(Group.id).where(Group.org_id == org.id)
    db.session.execute(delete(GroupMember).where(GroupMember.user_id == user.id,
                                                 GroupMember.group_id.in_(group_ids)))
    db.session.delete(membership)
    changed("org.member_removed", origin, user_id=user.id, org=org.slug)


def groups_of(org: Organization) -> list[Group]:
    return list(db.session.scalars(select(Group).where(Group.org_id == org.id)
                                   .order_by(Group.name)))


def group_members(group: Group) -> list[User]:
    return list(db.session.scalars(select(User).join(GroupMember,
                                                     GroupMember.user_id == User.id)
                                   .where(GroupMember.group_id == group.id)
                                   .order_by(User.username)))


def rename_group(group: Group, name: str, *, origin: Origin | None = None) -> None:
    if not name.strip() or len(name) > 200:
        raise FieldError("name", N_("a group name is 1 to 200 characters"))
    org = db.session.get(Organization, group.org_id)
    if org is not None and (other := find_group(org, name)) is not None and other.id != group.id:
        raise FieldError("name", N_("group %(group)r exists in %(slug)r"), group=name,
                         slug=org.slug)
    changed("group.renamed", origin, group_id=group.id, old=group.name, new=name)
    group.name = name


def delete_group(group: Group, *, origin: Origin | None = None) -> None:
    """Delete a group; its members stay in the organization."""
    changed("group.deleted", origin, group_id=group.id, group=group.name)
    db.session.delete(group)


def remove_group_member(group: Group, user: User, *, origin: Origin | None = None) -> None:
    removed = db.session.execute(delete(GroupMember).where(
        GroupMember.group_id == group.id, GroupMember.user_id == user.id))
    if not rowcount(removed):
        raise NotFound(N_("%(username)s is not in group %(group)s"), username=user.username,
                       group=group.name)
    changed("group.member_removed", origin, user_id=user.id, group_id=group.id)
