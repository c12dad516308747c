"""Remembered consent: per user and client, a set of scopes."""

from __future__ import annotations

from sqlalchemy import select

from ..clock import now
from ..extensions import db
from ..models import Client, Consent, User
from . import grants
from .audit import Origin, record


def covers(user: User, client: Client, scope: str) -> bool:
    """True when the user already granted every scope in ``scope`` to the client."""
    consent = db.session.get(Consent, (user.id, client.client_id))
    return consent is not None and set(scope.split()) <= set(consent.scope.split())


def grant(user: User, client: Client, scope: str, origin: Origin | None = None) -> None:
    """Remember ``scope`` for the user and client, added to what was granted before."""
    consent = db.session.get(Consent, (user.id, client.client_id))
    if consent is None:
        consent = Consent(user_id=user.id, client_id=client.client_id, scope="")
        db.session.add(consent)
    consent.scope = " ".join(dict.fromkeys([*consent.scope.split(), *scope.split()]))
    consent.granted_at = now()
    record("consent.granted", origin, user_id=user.id, client_id=client.client_id, scope=scope)


def of_user(user: User) -> list[tuple[Consent, Client]]:
    """What the user has granted, application by application."""
    rows = db.session.execute(
        select(Consent, Client)
        .join(Client, Client.client_id == Consent.client_id)
        .where(Consent.user_id == user.id)
        .order_by(Client.name)
    )
    return [(consent, client) for consent, client in rows]


def revoke(user: User, client_id: str, origin: Origin | None = None) -> bool:
    """Withdraw consent and revoke every token the client holds for the user, and
    what other clients exchanged them for."""
    consent = db.session.get(Consent, (user.id, client_id))
    if consent is None:
        return False
    db.session.delete(consent)
    grants.of_user_at_client(user.id, client_id)
    record("consent.revoked", origin, user_id=user.id, client_id=client_id)
    return True
