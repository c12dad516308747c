"""Typed SQLAlchemy models; every table in SPEC "Data"."""

from .audit import AuditEvent
from .client import Client
from .keys import SigningKey
from .lookup import by_key
from .org import Group, GroupMember, Membership, Organization
from .tokens import AuthorizationCode, Consent, LoginSession, Token
from .user import User

__all__ = [
    "AuditEvent",
    "AuthorizationCode",
    "Client",
    "Consent",
    "Group",
    "GroupMember",
    "LoginSession",
    "Membership",
    "Organization",
    "SigningKey",
    "Token",
    "User",
    "by_key",
]
