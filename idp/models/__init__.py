"""Typed SQLAlchemy models; every table in SPEC "Data"."""

from .apis import Api, Role, RoleAssignment
from .audit import AuditEvent
from .client import Client
from .codes import AuthorizationCode
from .consents import Consent
from .factors import Passkey, RecoveryCode, TotpFactor
from .grants import Grant, RevokedToken, UsedLink, UsedRefreshToken
from .interactions import Interaction
from .keys import SigningKey
from .lookup import by_key
from .org import Group, GroupMember, Membership, Organization
from .playground import PlaygroundRun
from .sessions import LoginSession
from .upstreams import LinkedIdentity, Upstream
from .user import User

__all__ = [
    "Api",
    "AuditEvent",
    "AuthorizationCode",
    "Client",
    "Consent",
    "Grant",
    "Group",
    "GroupMember",
    "Interaction",
    "LinkedIdentity",
    "LoginSession",
    "Membership",
    "Organization",
    "Passkey",
    "PlaygroundRun",
    "RecoveryCode",
    "RevokedToken",
    "Role",
    "RoleAssignment",
    "SigningKey",
    "TotpFactor",
    "Upstream",
    "UsedLink",
    "UsedRefreshToken",
    "User",
    "by_key",
]
