"""Organizations, memberships and groups."""

from __future__ import annotations

import re

from sqlalchemy import select

from ..extensions import db
from ..models import Group, GroupMember, Membership, Organization, User
from ..models.org import ROLES
from . import ServiceError

SLUG_RE = re.compile(r"^[a-z0-9](?:[a-z0-9-]{0,62}[a-z0-9])?$")


def create_org(slug: str, name: str) -> Organization:
    if not SLUG_RE.match(slug):
        raise ServiceError(f"invalid slug {slug!r}: lowercase letters, digits and dashes")
    if not name.strip():
        raise ServiceError("the organization needs a name")
    if find_org(slug):
        raise ServiceError(f"organization {slug!r} exists")
    org = Organization(slug=slug, name=name.strip())
    db.session.add(org)
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
        raise ServiceError(f"no organization {slug!r}")
    return org


def add_member(org: Organization, user: User, role: str = "member") -> Membership:
    if role not in ROLES:
        raise ServiceError(f"role must be one of {', '.join(ROLES)}")
    membership = db.session.get(Membership, (org.id, user.id))
    if membership is None:
        membership = Membership(org_id=org.id, user_id=user.id, role=role)
        db.session.add(membership)
    membership.role = role
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


def create_group(org: Organization, name: str) -> Group:
    if not name.strip() or len(name) > 200:
        raise ServiceError("a group name is 1 to 200 characters")
    if find_group(org, name):
        raise ServiceError(f"group {name!r} exists in {org.slug!r}")
    group = Group(org_id=org.id, name=name)
    db.session.add(group)
    return group


def find_group(org: Organization, name: str) -> Group | None:
    return db.session.scalar(select(Group).where(Group.org_id == org.id, Group.name == name))


def add_group_member(group: Group, user: User) -> None:
    if membership(user.id, group.org_id) is None:
        raise ServiceError("the user must be a member of the group's organization first")
    if db.session.get(GroupMember, (group.id, user.id)) is None:
        db.session.add(GroupMember(group_id=group.id, user_id=user.id))


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
