"""Typed SQLAlchemy models; every table in SPEC "Data"."""

from .audit import AuditEvent
from .client import Client
from .codes import AuthorizationCode
from .consents import Consent
from .interactions import Interaction
from .keys import SigningKey
from .lookup import by_key
from .org import Group, GroupMember, Membership, Organization
from .sessions import LoginSession
from .tokens import Token
from .user import User

__all__ = [
    "AuditEvent",
    "AuthorizationCode",
    "Client",
    "Consent",
    "Group",
    "GroupMember",
    "Interaction",
    "LoginSession",
    "Membership",
    "Organization",
    "SigningKey",
    "Token",
    "User",
    "by_key",
]
